package mlp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gokernels/gemm"
)

// TestPredictMatchesForward checks that Predict, whose first layer reads
// the inputs in place and adds its bias in a pass of its own, gives the
// outputs of the training forward pass (inputs gathered next to a column
// of ones, the bias folded into the product) up to rounding, for fused
// and unfused outputs, a single layer included, on one and two workers,
// and in several chunks.
func TestPredictMatchesForward(t *testing.T) {
	archs := []Architecture{
		{Sizes: []int{7, 5, 3}, Activations: []Activation{Sigmoid, Softmax}, Loss: SoftmaxCrossEntropy},
		{Sizes: []int{6, 4}, Activations: []Activation{Identity}, Loss: MSE},
		{Sizes: []int{6, 4}, Activations: []Activation{Softmax}, Loss: SoftmaxCrossEntropy},
		{Sizes: []int{33, 17, 9, 2}, Activations: []Activation{Tanh, ReLU, Sigmoid}, Loss: CrossEntropy},
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, arch := range archs {
		for _, w := range []int{1, 2} {
			n, err := New(arch, 4)
			if err != nil {
				t.Fatal(err)
			}
			for _, L := range n.layers {
				for j := range L.B {
					L.B[j] = float32(r.NormFloat64())
				}
			}
			tl := gemm.NewTiler(w, gemm.Rows)
			n.SetTilers(tl, nil)
			n.minPar = 0 // share even tiny passes
			const rows = 53
			in, out := n.Inputs(), n.Outputs()
			x := make([]float32, rows*in)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			got := make([]float32, rows*out+1)
			got[rows*out] = 42
			n.Predict(got, x, rows)
			if got[rows*out] != 42 {
				t.Fatalf("%v: Predict wrote past rows×Outputs", arch.Sizes)
			}
			// The training path, in chunks of 20 rows.
			want := make([]float32, rows*out)
			y := make([]float32, rows*out)
			last := len(n.layers)
			for b0 := 0; b0 < rows; b0 += 20 {
				b := min(20, rows-b0)
				n.load(n.batchData(x[b0*in:], y[b0*out:], b, "test"), nil, 0, b)
				n.forward(b)
				for i := range b {
					copy(want[(b0+i)*out:(b0+i+1)*out], n.buf.act[last][i*actLD(out):])
				}
			}
			for i, v := range want {
				if d := math.Abs(float64(got[i] - v)); d > 1e-5*(1+math.Abs(float64(v))) || got[i] != got[i] {
					t.Fatalf("%v, %d workers: output %d is %g, the training forward pass gives %g", arch.Sizes, w, i, got[i], v)
				}
			}
			tl.Close()
		}
	}
}
