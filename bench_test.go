package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

// benchSgemm reports GFLOP/s for an m×n×k NoTrans product done by f.
func benchSgemm(b *testing.B, m, n, k int, f sgemmFunc) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, bb, c := randSlice(rng, m*k), randSlice(rng, k*n), randSlice(rng, m*n)
	f(NoTrans, NoTrans, m, n, k, 1, a, k, bb, n, 0, c, n) // size the buffers
	b.ReportAllocs()
	for b.Loop() {
		f(NoTrans, NoTrans, m, n, k, 1, a, k, bb, n, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSgemm(b *testing.B) {
	for _, s := range []int{64, 256, 1024, 2048} {
		for _, kern := range kernels {
			b.Run(fmt.Sprintf("size=%d/kernel=%s", s, kern.name), func(b *testing.B) {
				if kern.name == "go" && s > 1024 {
					b.Skip("slow")
				}
				benchSgemm(b, s, s, s, serialWith(kern))
			})
		}
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("size=%d/tiler=auto/workers=%d", s, w), func(b *testing.B) {
				t := NewTiler(w, Auto)
				defer t.Close()
				benchSgemm(b, s, s, s, t.Sgemm)
			})
		}
	}
}

// mlpBatches are the batch sizes of the original study.
var mlpBatches = []int{50, 100, 200, 250, 260, 500, 2000, 10000, 20000}

// BenchmarkSgemmMLP runs products shaped like the 784-wide MLP layers in
// both layouts: samples as rows, X (N×784)·W (784×out), and the classic
// W (out×784)·A (784×N).
func BenchmarkSgemmMLP(b *testing.B) {
	for _, out := range []int{100, 300} {
		for _, layout := range []string{"XW", "WA"} {
			for _, n := range mlpBatches {
				for _, w := range []int{1, 2} {
					m, nn := n, out
					if layout == "WA" {
						m, nn = out, n
					}
					b.Run(fmt.Sprintf("layout=%s/out=%d/N=%d/workers=%d", layout, out, n, w), func(b *testing.B) {
						t := NewTiler(w, Auto)
						defer t.Close()
						benchSgemm(b, m, nn, 784, t.Sgemm)
					})
				}
			}
		}
	}
}

// BenchmarkSgemmNarrow runs the narrow layers of the sweep networks, samples
// as rows: X (N×in)·W (in×out) with out = 50, 20 or 10, memory-bound at
// large N.
func BenchmarkSgemmNarrow(b *testing.B) {
	for _, l := range [][2]int{{100, 50}, {50, 20}, {50, 10}, {140, 10}} {
		for _, n := range []int{50, 260, 2000, 20000} {
			for _, w := range []int{1, 2} {
				b.Run(fmt.Sprintf("layer=%dx%d/N=%d/workers=%d", l[0], l[1], n, w), func(b *testing.B) {
					t := NewTiler(w, Auto)
					defer t.Close()
					benchSgemm(b, n, l[1], l[0], t.Sgemm)
				})
			}
		}
	}
}

// BenchmarkSgemmSmall checks Auto on small products, where handing work to
// a second worker can cost more than it saves: workers=2 must not be slower
// than workers=1.
func BenchmarkSgemmSmall(b *testing.B) {
	for _, s := range [][3]int{{8, 8, 8}, {16, 16, 16}, {32, 32, 32}, {40, 40, 40}, {48, 48, 48}, {64, 64, 64}, {96, 96, 96}, {128, 128, 128}, {12, 500, 64}, {500, 12, 64}, {30, 10, 1500}} {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("shape=%dx%dx%d/workers=%d", s[0], s[1], s[2], w), func(b *testing.B) {
				t := NewTiler(w, Auto)
				defer t.Close()
				benchSgemm(b, s[0], s[1], s[2], t.Sgemm)
			})
		}
	}
}
