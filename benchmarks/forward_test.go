package benchmarks

import (
	"fmt"
	"testing"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/mlp"
)

// sweepNets are the networks of the original study, sigmoid after every
// layer.
var sweepNets = [][]int{
	{784, 100, 50, 10},
	{784, 300, 140, 10},
	{784, 200, 100, 10},
	{784, 50, 20, 10},
}

// forwardPasses is the number of forward passes in one op, as in the
// original study.
const forwardPasses = 30

// BenchmarkForward runs 30 forward passes of a sweep network over a batch
// of N samples (samples as rows; bias and sigmoid after every layer, each
// layer one product with N rows) and reports samples/s = 30·N per second.
func BenchmarkForward(b *testing.B) {
	nets := sweepNets[:1]
	if *full {
		nets = sweepNets
	}
	for _, sizes := range nets {
		acts := make([]mlp.Activation, len(sizes)-1)
		for i := range acts {
			acts[i] = mlp.Sigmoid
		}
		arch := mlp.Architecture{Sizes: sizes, Activations: acts, Loss: mlp.CrossEntropy}
		for _, n := range grid(batches, 50, 260, 2000) {
			x := randomInputs(n*sizes[0], 1)
			y := make([]float32, n*sizes[len(sizes)-1])
			for _, s := range grid(strategies, gemm.Rows, gemm.Auto) {
				for _, w := range grid(workers, 1, 2) {
					name := fmt.Sprintf("net=%s/N=%d/strategy=%v/workers=%d", netName(sizes), n, s, w)
					b.Run(name, func(b *testing.B) {
						net, err := mlp.New(arch, 1)
						if err != nil {
							b.Fatal(err)
						}
						withTiler(w, s, func(t *gemm.Tiler) {
							net.SetTilers(t, nil)
							net.Predict(y, x, n) // size the buffers
							b.ReportAllocs()
							for b.Loop() {
								for range forwardPasses {
									net.Predict(y, x, n)
								}
							}
							b.ReportMetric(float64(forwardPasses*n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
						})
					})
				}
			}
		}
	}
}
