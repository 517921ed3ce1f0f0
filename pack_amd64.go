//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

// transposeQuadsAVX is transposeInto for a whole panel of 4·quads rows and
// a multiple of 8 columns, written to records 4·quads floats apart.
//
//go:noescape
func transposeQuadsAVX(dst, src *float32, lds, cols, quads int)

// hasAVX is read-only after start-up.
var hasAVX = cpu.X86.HasAVX

// transposePanel sets d[p*rows+i] = src[(r0+i)*lds+c0+p] for i < rows and
// p < cols: a whole panel of rows rows (its record length) transposed, as
// transposeInto does, eight columns at a time with AVX when rows is a
// multiple of 4.
func transposePanel(d []float32, src []float32, lds, r0, c0, rows, cols int) {
	n := 0
	if hasAVX && rows%4 == 0 && cols >= 8 {
		n = cols &^ 7
		// The extents the kernel touches, checked here.
		_ = d[n*rows-1]
		_ = src[(r0+rows-1)*lds+c0+n-1]
		transposeQuadsAVX(&d[0], &src[r0*lds+c0], lds, n, rows/4)
	}
	if n < cols {
		transposeInto(d[n*rows:], rows, src, lds, r0, c0+n, rows, cols-n)
	}
}
