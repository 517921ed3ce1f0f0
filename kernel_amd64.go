//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

// availableKernels lists the kernels this CPU supports, fastest first.
func availableKernels() []*kernel {
	var ks []*kernel
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		ks = append(ks, newKernel("avx512", 12, 32, avx512Kernel))
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, newKernel("avx2", 6, 16, avx2Kernel))
	}
	return append(ks, genericKernel())
}

//go:noescape
func kernelAVX512(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, load int)

//go:noescape
func kernelAVX2(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, load int)

// avx512Kernel is the 12×32 AVX-512 kernel. The bounds checks make a
// driver bug panic instead of reading or writing outside the slices.
func avx512Kernel(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	_ = a[12*k-1]
	_ = b[(k-1)*ldb+31]
	_ = c[11*ldc+31]
	kernelAVX512(k, &a[0], &b[0], ldb, &c[0], ldc, alpha, beta, loadC(beta))
}

// avx2Kernel is the 6×16 AVX2+FMA kernel.
func avx2Kernel(k int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	_ = a[6*k-1]
	_ = b[(k-1)*ldb+15]
	_ = c[5*ldc+15]
	kernelAVX2(k, &a[0], &b[0], ldb, &c[0], ldc, alpha, beta, loadC(beta))
}

func loadC(beta float32) int {
	if beta == 0 {
		return 0
	}
	return 1
}
