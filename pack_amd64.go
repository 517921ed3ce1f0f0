//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

// transposeQuadsAVX is transposeGo for 4·quads rows and a multiple of 8
// columns.
//
//go:noescape
func transposeQuadsAVX(dst, src *float32, ld, lds, cols, quads int)

// hasAVX is read-only after start-up.
var hasAVX = cpu.X86.HasAVX

// transposeInto is transposeGo, eight columns of four rows at a time with
// AVX, and the rows and columns left over in Go.
func transposeInto(d []float32, ld int, src []float32, lds, r0, c0, rows, cols int) {
	r4, n := rows&^3, cols&^7
	if !hasAVX || r4 == 0 || n == 0 {
		transposeGo(d, ld, src, lds, r0, c0, rows, cols)
		return
	}
	// The extents the kernel touches, checked here.
	_ = d[(n-1)*ld+r4-1]
	_ = src[(r0+r4-1)*lds+c0+n-1]
	transposeQuadsAVX(&d[0], &src[r0*lds+c0], ld, lds, n, r4/4)
	if n < cols {
		transposeGo(d[n*ld:], ld, src, lds, r0, c0+n, r4, cols-n)
	}
	if r4 < rows {
		transposeGo(d[r4:], ld, src, lds, r0+r4, c0, rows-r4, cols)
	}
}
