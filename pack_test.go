package gemm

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTranspose checks transposeInto (AVX on amd64) against transposeGo
// for the row counts of whole and partial panels, column counts around
// the 8-column step, records longer than the rows, and leading dimensions
// with padding, with guard values between and after the records.
func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, rows := range []int{1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 32} {
		for _, ld := range []int{rows, rows + 2} {
			for cols := 1; cols <= 40; cols++ {
				for _, pad := range []int{0, 3} {
					lds := cols + 5 + pad
					r0, c0 := 2, 5
					src := randSlice(r, (r0+rows)*lds)
					got := make([]float32, cols*ld+4)
					for i := range got {
						got[i] = 42
					}
					want := slices.Clone(got)
					transposeGo(want, ld, src, lds, r0, c0, rows, cols)
					transposeInto(got, ld, src, lds, r0, c0, rows, cols)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%d rows × %d cols, ld %d, lds %d: element %d (column %d, row %d) is %v, want %v",
								rows, cols, ld, lds, i, i/ld, i%ld, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
