package mlp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gokernels/gemm"
)

// gradCase is a network checked against finite differences.
type gradCase struct {
	sizes []int
	acts  []Activation
	loss  Loss
}

func (c gradCase) String() string {
	return fmt.Sprintf("%v/%v/%v", c.sizes, c.acts, c.loss)
}

func gradCases() []gradCase {
	var cs []gradCase
	// Every activation in a hidden layer, under each loss.
	for _, hidden := range []Activation{Identity, Sigmoid, ReLU, Tanh, Softmax} {
		cs = append(cs,
			gradCase{[]int{5, 7, 6, 4}, []Activation{hidden, hidden, Sigmoid}, CrossEntropy},
			gradCase{[]int{5, 7, 4}, []Activation{hidden, Softmax}, SoftmaxCrossEntropy},
			gradCase{[]int{5, 7, 3}, []Activation{hidden, Identity}, MSE},
		)
	}
	// Every activation on the output layer.
	for _, out := range []Activation{Identity, Sigmoid, ReLU, Tanh, Softmax} {
		cs = append(cs, gradCase{[]int{4, 6, 3}, []Activation{Tanh, out}, MSE})
	}
	cs = append(cs,
		gradCase{[]int{4, 6, 5}, []Activation{Sigmoid, Softmax}, CrossEntropy},
		gradCase{[]int{6, 5}, []Activation{Sigmoid}, CrossEntropy}, // one layer
		gradCase{[]int{3, 8, 8, 8, 2}, []Activation{ReLU, Tanh, Sigmoid, Softmax}, SoftmaxCrossEntropy},
	)
	return cs
}

// TestGradients checks every parameter's gradient, computed in float32 by
// the network, against central differences of the float64 reference loss,
// and the network's loss against the reference loss.
func TestGradients(t *testing.T) {
	for _, workers := range []int{1, 2} {
		tl := gemm.NewTiler(workers, gemm.Auto)
		defer tl.Close()
		for ci, c := range gradCases() {
			t.Run(fmt.Sprintf("workers=%d/%v", workers, c), func(t *testing.T) {
				arch := Architecture{Sizes: c.sizes, Activations: c.acts, Loss: c.loss}
				n, err := New(arch, uint64(ci))
				if err != nil {
					t.Fatal(err)
				}
				n.SetTilers(tl, nil)
				n.minPar = 0 // element-wise passes on all workers
				// Non-zero biases, so that they matter.
				r := rand.New(rand.NewPCG(uint64(ci), 7))
				for _, L := range n.layers {
					for j := range L.B {
						L.B[j] = 0.2 * (2*r.Float32() - 1)
					}
				}
				const rows = 6
				x, y := randomBatch(r, rows, c.sizes[0], c.sizes[len(c.sizes)-1], c.loss)
				params := to64(n.Params())
				loss, _ := n.TrainBatch(x, y, rows, NewSGD(0, 0))
				wantLoss := refLoss(arch, params, to64(x), to64(y), rows)
				if math.Abs(loss-wantLoss) > 1e-5*math.Max(1, math.Abs(wantLoss)) {
					t.Errorf("loss %.9g, reference %.9g", loss, wantLoss)
				}
				want := refGrad(arch, params, to64(x), to64(y), rows, 1e-6)
				checkGrad(t, n.grads, want)
			})
		}
	}
}

// checkGrad compares a float32 gradient with a reference.
func checkGrad(t *testing.T, got []float32, want []float64) {
	t.Helper()
	var norm float64
	for _, v := range want {
		norm = math.Max(norm, math.Abs(v))
	}
	if norm == 0 {
		norm = 1e-6 // the reference is flat: the gradient must be about zero
	}
	bad := 0
	for i, w := range want {
		g := float64(got[i])
		if math.Abs(g-w) > 1e-4*norm+1e-3*math.Abs(w) {
			if bad < 5 {
				t.Errorf("gradient[%d] = %.7g, reference %.7g (max |gradient| %.3g)", i, g, w, norm)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d gradients differ", bad, len(want))
	}
}

// TestLossRowGradient checks each loss's gradient with respect to the
// output pre-activations directly, including outputs that cross the
// cross-entropy clip and rows that do not sum to one.
func TestLossRowGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	type tc struct {
		loss Loss
		act  Activation
		z    []float64 // pre-activations
		y    []float64
	}
	cases := []tc{
		{CrossEntropy, Sigmoid, []float64{0.3, -1.2, 2.0, 0.1}, []float64{0, 0, 1, 0}},
		{CrossEntropy, Sigmoid, []float64{0.3, -1.2, 2.0, 0.1}, []float64{0.2, 0.3, 0.4, 0.1}},
		// Output 1 normalises to below 1e-7: clipped, so its gradient is 0
		// while its target is 0, and the rest still see the normalisation.
		{CrossEntropy, Sigmoid, []float64{3, -25, 2.0, 1}, []float64{1, 0, 0, 0}},
		// A clipped output with a non-zero target: the loss is flat there.
		{CrossEntropy, Sigmoid, []float64{3, -25, 2.0, 1}, []float64{0, 1, 0, 0}},
		{CrossEntropy, Softmax, []float64{0.5, -0.7, 1.5}, []float64{0, 1, 0}},
		{CrossEntropy, Tanh, []float64{0.5, 0.7, 1.5}, []float64{0, 1, 0}},
		{CrossEntropy, ReLU, []float64{0.5, 0.7, 1.5}, []float64{0, 0, 1}},
		{CrossEntropy, Identity, []float64{0.5, 0.7, 1.5}, []float64{1, 0, 0}},
		{SoftmaxCrossEntropy, Softmax, []float64{0.5, -0.7, 1.5, 80}, []float64{0, 1, 0, 0}},
		{SoftmaxCrossEntropy, Softmax, []float64{-100, 100, 3}, []float64{0.5, 0, 0.5}},
		{MSE, Identity, []float64{0.5, -0.7, 1.5}, []float64{0.1, 0.9, -2}},
		{MSE, Sigmoid, []float64{0.5, -0.7, 1.5}, []float64{0.1, 0.9, 0.3}},
	}
	for range 5 {
		z := make([]float64, 5)
		for j := range z {
			z[j] = 4 * r.NormFloat64()
		}
		cases = append(cases, tc{CrossEntropy, Sigmoid, z, []float64{0, 0, 0, 1, 0}}, tc{SoftmaxCrossEntropy, Softmax, z, []float64{0, 0, 0, 0, 1}})
	}
	for _, c := range cases {
		f := func(z []float64) float64 {
			return refSampleLoss(c.loss, refActivate(c.act, z), z, c.y)
		}
		z32 := make([]float32, len(c.z))
		for j, v := range c.z {
			z32[j] = float32(v)
		}
		z := to64(z32)
		p32 := append([]float32(nil), z32...)
		activate(c.act, p32, len(p32), len(p32), 0, 1)
		y32 := make([]float32, len(c.y))
		for j, v := range c.y {
			y32[j] = float32(v)
		}
		grad := make([]float32, len(z))
		zc := append([]float32(nil), z32...)
		loss := lossRow(c.loss, c.act, p32, zc, y32, grad, 1)
		if want := f(z); math.Abs(loss-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Errorf("%v %v z=%v: loss %.9g, reference %.9g", c.loss, c.act, c.z, loss, want)
		}
		want := make([]float64, len(z))
		const h = 1e-6
		for j := range z {
			zp := append([]float64(nil), z...)
			zp[j] += h
			up := f(zp)
			zp[j] -= 2 * h
			want[j] = (up - f(zp)) / (2 * h)
		}
		t.Run(fmt.Sprintf("%v/%v/%v", c.loss, c.act, c.z), func(t *testing.T) { checkGrad(t, grad, want) })
	}
}
