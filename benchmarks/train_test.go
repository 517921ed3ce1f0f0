package benchmarks

import (
	"fmt"
	"testing"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/mlp"
)

// BenchmarkTrainStep runs one training step (forward, backward, RMSprop
// update) of the MNIST training network at its batch size and reports
// samples/s. The weight gradients use the same strategy as the rest.
func BenchmarkTrainStep(b *testing.B) {
	sizes := []int{784, 200, 100, 50, 30, 10}
	const batch = 1500
	arch := mlp.Architecture{
		Sizes:       sizes,
		Activations: []mlp.Activation{mlp.Sigmoid, mlp.Sigmoid, mlp.Sigmoid, mlp.Sigmoid, mlp.Sigmoid},
		Loss:        mlp.CrossEntropy,
	}
	x := randomInputs(batch*784, 2)
	y := make([]float32, batch*10)
	for i := range batch {
		y[i*10+i%10] = 1
	}
	for _, s := range grid(strategies, gemm.Auto) {
		for _, w := range grid(workers, 1, 2) {
			b.Run(fmt.Sprintf("net=%s/batch=%d/strategy=%v/workers=%d", netName(sizes), batch, s, w), func(b *testing.B) {
				net, err := mlp.New(arch, 1)
				if err != nil {
					b.Fatal(err)
				}
				withTiler(w, s, func(t *gemm.Tiler) {
					net.SetTilers(t, nil)
					opt := mlp.NewRMSprop()
					net.TrainBatch(x, y, batch, opt) // size the buffers
					b.ReportAllocs()
					for b.Loop() {
						net.TrainBatch(x, y, batch, opt)
					}
					b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
				})
			})
		}
	}
}
