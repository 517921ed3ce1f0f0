//go:build !amd64 || purego

package gemm

// transposeInto is transposeGo.
func transposeInto(d []float32, ld int, src []float32, lds, r0, c0, rows, cols int) {
	transposeGo(d, ld, src, lds, r0, c0, rows, cols)
}
