package benchmarks

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/gokernels/gemm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// shape is one product: C (m×n) = A (m×k)·B (k×n), all NoTrans.
type shape struct{ m, n, k int }

// sgemmShapes lists the products: squares, and the 784-wide MLP layers in
// both layouts, samples as rows X (N×784)·W (784×out) and the classic
// W (out×784)·A (784×N).
func sgemmShapes() []shape {
	squares := []int{1024}
	outs := []int{100}
	ns := []int{50, 260, 2000, 20000}
	switch {
	case testing.Short():
		return []shape{{256, 256, 256}, {260, 100, 784}, {100, 260, 784}}
	case *full:
		squares = []int{64, 256, 1024, 2048}
		outs = []int{100, 300}
		ns = batches
	}
	var out []shape
	for _, s := range squares {
		out = append(out, shape{s, s, s})
	}
	for _, o := range outs {
		for _, n := range ns {
			out = append(out, shape{n, o, 784}, shape{o, n, 784})
		}
	}
	return out
}

// BenchmarkSgemm reports GFLOP/s for each shape: gemm.Sgemm as
// strategy=serial, every Tiler strategy and worker count, and gonum's pure
// Go Sgemm as strategy=gonum with GOMAXPROCS set to the worker count.
func BenchmarkSgemm(b *testing.B) {
	for _, sh := range sgemmShapes() {
		a := randomInputs(sh.m*sh.k, 3)
		bb := randomInputs(sh.k*sh.n, 4)
		c := make([]float32, sh.m*sh.n)
		prefix := fmt.Sprintf("shape=%dx%dx%d", sh.m, sh.n, sh.k)
		run := func(b *testing.B, f func()) {
			f()
			b.ReportAllocs()
			for b.Loop() {
				f()
			}
			b.ReportMetric(2*float64(sh.m)*float64(sh.n)*float64(sh.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(prefix+"/strategy=serial/workers=1", func(b *testing.B) {
			run(b, func() { gemm.Sgemm(gemm.NoTrans, gemm.NoTrans, sh.m, sh.n, sh.k, 1, a, sh.k, bb, sh.n, 0, c, sh.n) })
		})
		for _, s := range grid(strategies, gemm.Auto) {
			for _, w := range grid(workers, 1, 2) {
				b.Run(fmt.Sprintf("%s/strategy=%v/workers=%d", prefix, s, w), func(b *testing.B) {
					withTiler(w, s, func(t *gemm.Tiler) {
						run(b, func() { t.Sgemm(gemm.NoTrans, gemm.NoTrans, sh.m, sh.n, sh.k, 1, a, sh.k, bb, sh.n, 0, c, sh.n) })
					})
				})
			}
		}
		for _, w := range grid(workers, 1, 2) {
			b.Run(fmt.Sprintf("%s/strategy=gonum/workers=%d", prefix, w), func(b *testing.B) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(w))
				var impl gonum.Implementation
				run(b, func() { impl.Sgemm(blas.NoTrans, blas.NoTrans, sh.m, sh.n, sh.k, 1, a, sh.k, bb, sh.n, 0, c, sh.n) })
			})
		}
	}
}
