package mlp

import (
	"fmt"
	"math"
)

// Activation is the function a dense layer applies to each output.
type Activation int

const (
	// Identity leaves the outputs as they are: act(z) = z.
	Identity Activation = iota
	// Sigmoid is the logistic function 1/(1+e^−z).
	Sigmoid
	// ReLU is max(0, z).
	ReLU
	// Tanh is the hyperbolic tangent.
	Tanh
	// Softmax maps each row z to e^z/Σe^z, a probability distribution.
	Softmax
)

var activationNames = [...]string{Identity: "identity", Sigmoid: "sigmoid", ReLU: "relu", Tanh: "tanh", Softmax: "softmax"}

// String returns the activation's name: identity, sigmoid, relu, tanh or
// softmax.
func (a Activation) String() string {
	if a.valid() {
		return activationNames[a]
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

func (a Activation) valid() bool { return a >= 0 && int(a) < len(activationNames) }

// ParseActivation returns the activation whose String is name.
func ParseActivation(name string) (Activation, error) {
	for i, n := range activationNames {
		if n == name {
			return Activation(i), nil
		}
	}
	return 0, fmt.Errorf("mlp: unknown activation %q (want identity, sigmoid, relu, tanh or softmax)", name)
}

// activate applies a in place to columns [0, cols) of rows [lo, hi) of x,
// whose rows are ld apart.
func activate(a Activation, x []float32, ld, cols, lo, hi int) {
	switch a {
	case Identity:
	case Sigmoid:
		for i := lo; i < hi; i++ {
			sigmoidSlice(x[i*ld : i*ld+cols])
		}
	case ReLU:
		for i := lo; i < hi; i++ {
			row := x[i*ld : i*ld+cols]
			for j, v := range row {
				if v < 0 { // NaN stays NaN
					row[j] = 0
				}
			}
		}
	case Tanh:
		for i := lo; i < hi; i++ {
			row := x[i*ld : i*ld+cols]
			for j, v := range row {
				row[j] = float32(math.Tanh(float64(v)))
			}
		}
	case Softmax:
		for i := lo; i < hi; i++ {
			row := x[i*ld : i*ld+cols]
			softmaxRow(row, row)
		}
	default:
		panic(fmt.Sprintf("mlp: activate: unknown activation %d", int(a)))
	}
}

// softmaxRow sets dst to the softmax of src; they may be the same slice.
func softmaxRow(dst, src []float32) {
	dst = dst[:len(src)]
	m := float32(math.Inf(-1))
	for _, v := range src {
		if v > m {
			m = v
		}
	}
	var sum float32
	for j, v := range src {
		e := expf(v - m)
		dst[j] = e
		sum += e
	}
	inv := 1 / sum
	for j := range dst {
		dst[j] *= inv
	}
}

// activationGrad turns d, the gradient of the loss with respect to a
// layer's outputs y = act(z), into the gradient with respect to z, in place,
// for columns [0, cols) of rows [lo, hi). The derivative is taken from the
// outputs: σ' = y(1−y), tanh' = 1−y², relu' = [y > 0], and for softmax
// dz = y ⊙ (d − (d·y)).
func activationGrad(a Activation, d []float32, ldd int, y []float32, ldy, cols, lo, hi int) {
	switch a {
	case Identity:
	case Sigmoid:
		for i := lo; i < hi; i++ {
			sigmoidGrad(d[i*ldd:i*ldd+cols], y[i*ldy:i*ldy+cols])
		}
	case ReLU:
		for i := lo; i < hi; i++ {
			dr := d[i*ldd : i*ldd+cols]
			yr := y[i*ldy : i*ldy+cols]
			for j, v := range yr {
				if !(v > 0) {
					dr[j] = 0
				}
			}
		}
	case Tanh:
		for i := lo; i < hi; i++ {
			dr := d[i*ldd : i*ldd+cols]
			yr := y[i*ldy : i*ldy+cols]
			for j, v := range yr {
				dr[j] *= 1 - v*v
			}
		}
	case Softmax:
		for i := lo; i < hi; i++ {
			dr := d[i*ldd : i*ldd+cols]
			yr := y[i*ldy : i*ldy+cols]
			var dot float64
			for j, v := range yr {
				dot += float64(dr[j]) * float64(v)
			}
			for j, v := range yr {
				dr[j] = float32(float64(v) * (float64(dr[j]) - dot))
			}
		}
	default:
		panic(fmt.Sprintf("mlp: activationGrad: unknown activation %d", int(a)))
	}
}
