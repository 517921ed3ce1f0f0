//go:build !amd64 || purego

package gemm

// transposePanel sets d[p*rows+i] = src[(r0+i)*lds+c0+p] for i < rows and
// p < cols: a whole panel of rows rows transposed.
func transposePanel(d []float32, src []float32, lds, r0, c0, rows, cols int) {
	transposeInto(d, rows, src, lds, r0, c0, rows, cols)
}
