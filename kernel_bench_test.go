package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkKernel measures each micro-kernel alone on packed panels that
// stay in cache, the ceiling for the blocked product.
func BenchmarkKernel(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kern := range kernels {
		for _, k := range []int{64, 256} {
			b.Run(fmt.Sprintf("kernel=%s/k=%d", kern.name, k), func(b *testing.B) {
				a := randSlice(rng, kern.mr*k)
				bp := randSlice(rng, kern.nr*k)
				c := randSlice(rng, kern.mr*kern.nr)
				for b.Loop() {
					kern.fn(k, a, 1, kern.mr, bp, kern.nr, c, kern.nr, 1, 1, kern.mr, kern.nr)
				}
				flops := 2 * float64(kern.mr*kern.nr*k)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
