package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkExp(b *testing.B) {
	type sh struct {
		tA      Transpose
		m, n, k int
	}
	for _, s := range []sh{{Trans, 1024, 1024, 1024}, {NoTrans, 1024, 1024, 1024}, {Trans, 1000, 1000, 1000}, {NoTrans, 1500, 200, 784}, {Trans, 784, 200, 1500}, {NoTrans, 1500, 100, 200}, {Trans, 200, 100, 1500}, {NoTrans, 1500, 200, 100}, {NoTrans, 64, 64, 64}, {NoTrans, 50, 30, 1500}} {
		for _, st := range []Strategy{Rows, Cols, SplitK, Auto} {
			for _, w := range []int{1, 2} {
				if w == 1 && st != Auto {
					continue
				}
				b.Run(fmt.Sprintf("%vN/%dx%dx%d/s=%v/w=%d", s.tA, s.m, s.n, s.k, st, w), func(b *testing.B) {
					t := NewTiler(w, st)
					defer t.Close()
					rng := rand.New(rand.NewPCG(1, 2))
					a, bb, c := randSlice(rng, s.m*s.k), randSlice(rng, s.k*s.n), randSlice(rng, s.m*s.n)
					lda := s.k
					if s.tA == Trans {
						lda = s.m
					}
					for b.Loop() {
						t.Sgemm(s.tA, NoTrans, s.m, s.n, s.k, 1, a, lda, bb, s.n, 0, c, s.n)
					}
					b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

func BenchmarkPackA(b *testing.B) {
	for _, tA := range []Transpose{NoTrans, Trans} {
		b.Run(tA.String(), func(b *testing.B) {
			m, k := 784, 1500
			rng := rand.New(rand.NewPCG(1, 2))
			a := randSlice(rng, m*k)
			lda := k
			if tA == Trans {
				lda = m
			}
			pr := problem{tA: tA, m: m, n: 200, k: k, a: a, lda: lda}
			pl := pr.plan(bestKernel)
			dst := make([]float32, pl.kc*roundUp(pl.mc, 12))
			for b.Loop() {
				for pc := 0; pc < k; pc += pl.kc {
					kc := min(pl.kc, k-pc)
					for ic := 0; ic < m; ic += pl.mc {
						pl.packABlock(dst, ic, min(pl.mc, m-ic), pc, kc, 12)
					}
				}
			}
			b.ReportMetric(float64(m*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
	}
}
