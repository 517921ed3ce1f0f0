//go:build !amd64 || purego

package gemm

func availableKernels() []*kernel {
	return []*kernel{genericKernel()}
}
