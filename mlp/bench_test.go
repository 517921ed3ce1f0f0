package mlp

import (
	"fmt"
	"testing"

	"github.com/gokernels/gemm"
)

// BenchmarkTrainStep times training steps of the network of the original
// experiment (784-200-100-50-30-10, sigmoid, Keras cross-entropy, RMSprop)
// at its batch size, 1500, on synthetic data. It reports samples/s and the
// seconds a 60000-sample MNIST epoch would take at that rate.
func BenchmarkTrainStep(b *testing.B) {
	const batch = 1500
	arch := Architecture{
		Sizes:       []int{784, 200, 100, 50, 30, 10},
		Activations: []Activation{Sigmoid, Sigmoid, Sigmoid, Sigmoid, Sigmoid},
		Loss:        CrossEntropy,
	}
	data := blobs(1, batch, 784, 10, 0.3)
	for _, s := range []gemm.Strategy{gemm.Auto} {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("strategy=%v/workers=%d", s, w), func(b *testing.B) {
				n, err := New(arch, 1)
				if err != nil {
					b.Fatal(err)
				}
				tl := gemm.NewTiler(w, s)
				defer tl.Close()
				n.SetTilers(tl, nil)
				opt := NewRMSprop()
				n.TrainBatch(data.X, data.Y, batch, opt)
				b.ReportAllocs()
				for b.Loop() {
					n.TrainBatch(data.X, data.Y, batch, opt)
				}
				rate := float64(batch) * float64(b.N) / b.Elapsed().Seconds()
				b.ReportMetric(rate, "samples/s")
				b.ReportMetric(60000/rate, "s/epoch")
			})
		}
	}
}
