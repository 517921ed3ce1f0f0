package gemm

import (
	"math/rand/v2"
	"testing"
)

// TestTransposePanel checks transposePanel (AVX on amd64) against
// transposeInto for panels of every height the kernels pack, column counts
// around the 8-column step, and leading dimensions with padding, with
// guard values after the panel.
func TestTransposePanel(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, rows := range []int{4, 6, 8, 12, 16, 32} {
		for cols := 1; cols <= 40; cols++ {
			for _, pad := range []int{0, 3} {
				lds := cols + 5 + pad
				r0, c0 := 2, 5
				src := randSlice(r, (r0+rows)*lds)
				want := make([]float32, rows*cols)
				transposeInto(want, rows, src, lds, r0, c0, rows, cols)
				got := make([]float32, rows*cols+4)
				for i := range got[rows*cols:] {
					got[rows*cols+i] = 42
				}
				transposePanel(got, src, lds, r0, c0, rows, cols)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%d rows × %d cols, lds %d: element %d (column %d, row %d) is %v, want %v",
							rows, cols, lds, i, i/rows, i%rows, got[i], want[i])
					}
				}
				for i, g := range got[rows*cols:] {
					if g != 42 {
						t.Fatalf("%d rows × %d cols: wrote %v past the panel at %d", rows, cols, g, i)
					}
				}
			}
		}
	}
}
