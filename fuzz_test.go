package gemm

import (
	"math"
	"testing"
)

// FuzzSgemm drives every kernel (assembly and Go) through the blocked
// product on fuzzed shapes, transposes, strides and scalars, and compares C
// with the float64 reference, guard values included. Small blocks make
// modest sizes cross every cache block. The seed corpus runs in CI; run
// `go test -fuzz=FuzzSgemm` to search further.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(12), uint8(32), uint8(16), uint8(0), uint8(0), float32(1), float32(0), uint8(0))
	f.Add(uint8(13), uint8(17), uint8(40), uint8(3), uint8(2), float32(-1.5), float32(0.5), uint8(1))
	f.Add(uint8(1), uint8(1), uint8(1), uint8(1), uint8(7), float32(2), float32(1), uint8(2))
	f.Add(uint8(25), uint8(65), uint8(3), uint8(2), uint8(1), float32(0.25), float32(-2), uint8(3))
	f.Add(uint8(0), uint8(9), uint8(5), uint8(0), uint8(0), float32(1), float32(3), uint8(0))
	f.Add(uint8(40), uint8(16), uint8(77), uint8(1), uint8(4), float32(1), float32(0), uint8(4))
	f.Fuzz(func(t *testing.T, m, n, k, trans, pad uint8, alpha, beta float32, variant uint8) {
		if math.IsNaN(float64(alpha)) || math.IsInf(float64(alpha), 0) || math.Abs(float64(alpha)) > 1e6 ||
			math.IsNaN(float64(beta)) || math.IsInf(float64(beta), 0) || math.Abs(float64(beta)) > 1e6 {
			t.Skip("scalars outside the tested range")
		}
		gc := gemmCase{
			tA: Transpose(trans & 1), tB: Transpose(trans >> 1 & 1),
			m: int(m % 50), n: int(n % 80), k: int(k % 90),
			alpha: alpha, beta: beta,
			padA: int(pad % 5), padB: int(pad / 5 % 5), padC: int(pad / 25 % 5),
			nanC: beta == 0 && variant&1 == 1,
		}
		for _, kern := range kernels {
			kb := kern.withBlocking(blocking{kc: 8 + int(variant%4)*8, mc: 2 * kern.mr, nc: 2 * kern.nr})
			t.Run(kern.name, func(t *testing.T) { gc.check(t, serialWith(kb)) })
		}
	})
}
