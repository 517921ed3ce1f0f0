//go:build !purego

package gemm

import (
	"testing"

	"golang.org/x/sys/cpu"
)

//go:noescape
func fmaPeakAVX512(n int)

//go:noescape
func fmaPeakAVX2(n int)

// BenchmarkFMAPeak measures the FMA throughput of one core, the ceiling the
// kernels are compared against in the same run.
func BenchmarkFMAPeak(b *testing.B) {
	run := func(b *testing.B, f func(int), flopsPerIter float64) {
		const iters = 1 << 16
		for b.Loop() {
			f(iters)
		}
		b.ReportMetric(flopsPerIter*iters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
	b.Run("isa=avx512", func(b *testing.B) {
		if !cpu.X86.HasAVX512F {
			b.Skip("no AVX-512")
		}
		run(b, fmaPeakAVX512, 24*16*2)
	})
	b.Run("isa=avx2", func(b *testing.B) {
		if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
			b.Skip("no AVX2+FMA")
		}
		run(b, fmaPeakAVX2, 12*8*2)
	})
}
