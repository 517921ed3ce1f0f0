package mlp

import (
	"math"
	"strings"
	"testing"
)

// TestOptimizers checks three steps of each optimizer against values
// worked out by hand (in float64) from the update rules, with the
// gradients 0.2, −0.1, 0.4 on a weight starting at 0.5, and a bias whose
// gradient is always zero.
func TestOptimizers(t *testing.T) {
	cases := []struct {
		opt  Optimizer
		want [3]float64
	}{
		// v = 0.9v − 0.1g: −0.02, −0.008, −0.0472.
		{NewSGD(0.1, 0.9), [3]float64{0.48, 0.472, 0.4248}},
		{NewSGD(0.1, 0), [3]float64{0.48, 0.49, 0.45}},
		// ms = 0.004, 0.0046, 0.02014; w −= 0.001·g/(√ms + 1e-7).
		{NewRMSprop(), [3]float64{0.49683772733982373, 0.4983121447274629, 0.49549356741272754}},
		// α_t = 0.001·√(1−0.999^t)/(1−0.9^t); m, v as in Keras.
		{NewAdam(), [3]float64{0.4990000158111383, 0.4987336825395067, 0.4980755754815954}},
	}
	for _, c := range cases {
		n, err := New(Architecture{Sizes: []int{1, 1}, Activations: []Activation{Identity}, Loss: MSE}, 1)
		if err != nil {
			t.Fatal(err)
		}
		n.params[0], n.params[1] = 0.5, -0.25
		for s, g := range []float32{0.2, -0.1, 0.4} {
			n.grads[0], n.grads[1] = g, 0
			c.opt.start(n)
			c.opt.update(n.params, n.grads, 0, 1)
			c.opt.update(n.params, n.grads, 1, 2)
			if got := float64(n.params[0]); math.Abs(got-c.want[s]) > 1e-6 {
				t.Errorf("%s step %d: w = %.9g, want %.9g", c.opt.Name(), s+1, got, c.want[s])
			}
			if n.params[1] != -0.25 {
				t.Errorf("%s step %d: bias with zero gradient moved to %g", c.opt.Name(), s+1, n.params[1])
			}
		}
	}
}

func TestOptimizerSecondNetworkPanics(t *testing.T) {
	arch := Architecture{Sizes: []int{2, 1}, Activations: []Activation{Identity}, Loss: MSE}
	a, _ := New(arch, 1)
	b, _ := New(arch, 1)
	opt := NewRMSprop()
	opt.start(a)
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "second network") {
			t.Errorf("panic %v, want one about a second network", r)
		}
	}()
	opt.start(b)
}
