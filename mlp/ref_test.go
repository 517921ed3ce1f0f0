package mlp

import (
	"math"
	"math/rand/v2"
)

// This file holds a float64 reference implementation of a network's loss,
// written as plainly as possible, for the gradient checks.

func refActivate(a Activation, z []float64) []float64 {
	y := make([]float64, len(z))
	switch a {
	case Identity:
		copy(y, z)
	case Sigmoid:
		for j, v := range z {
			y[j] = 1 / (1 + math.Exp(-v))
		}
	case ReLU:
		for j, v := range z {
			y[j] = math.Max(0, v)
		}
	case Tanh:
		for j, v := range z {
			y[j] = math.Tanh(v)
		}
	case Softmax:
		m := math.Inf(-1)
		for _, v := range z {
			m = math.Max(m, v)
		}
		var s float64
		for j, v := range z {
			y[j] = math.Exp(v - m)
			s += y[j]
		}
		for j := range y {
			y[j] /= s
		}
	}
	return y
}

// refSampleLoss is the loss of one sample with outputs p, logits z and
// targets y.
func refSampleLoss(l Loss, p, z, y []float64) float64 {
	switch l {
	case CrossEntropy:
		var s float64
		for _, v := range p {
			s += v
		}
		var loss float64
		for j, v := range p {
			c := math.Min(math.Max(v/s, clipLo), clipHi)
			loss -= y[j] * math.Log(c)
		}
		return loss
	case SoftmaxCrossEntropy:
		m := math.Inf(-1)
		for _, v := range z {
			m = math.Max(m, v)
		}
		var s float64
		for _, v := range z {
			s += math.Exp(v - m)
		}
		var loss float64
		for j, v := range z {
			loss += y[j] * (m + math.Log(s) - v)
		}
		return loss
	default: // MSE
		var loss float64
		for j, v := range p {
			loss += (v - y[j]) * (v - y[j])
		}
		return loss / float64(len(p))
	}
}

// refLoss is the mean loss over rows samples of the network with the
// architecture and the parameters (laid out as Network.Params).
func refLoss(arch Architecture, params, x, y []float64, rows int) float64 {
	in0, out := arch.Sizes[0], arch.Sizes[len(arch.Sizes)-1]
	var total float64
	for r := range rows {
		a := x[r*in0 : (r+1)*in0]
		var z []float64
		off := 0
		for l, act := range arch.Activations {
			in, o := arch.Sizes[l], arch.Sizes[l+1]
			z = make([]float64, o)
			for j := range o {
				s := params[off+in*o+j] // bias
				for i := range in {
					s += a[i] * params[off+i*o+j]
				}
				z[j] = s
			}
			a = refActivate(act, z)
			off += (in + 1) * o
		}
		total += refSampleLoss(arch.Loss, a, z, y[r*out:(r+1)*out])
	}
	return total / float64(rows)
}

// refGrad returns the central-difference gradient of refLoss.
func refGrad(arch Architecture, params, x, y []float64, rows int, h float64) []float64 {
	g := make([]float64, len(params))
	p := append([]float64(nil), params...)
	for i := range p {
		p[i] = params[i] + h
		up := refLoss(arch, p, x, y, rows)
		p[i] = params[i] - h
		down := refLoss(arch, p, x, y, rows)
		p[i] = params[i]
		g[i] = (up - down) / (2 * h)
	}
	return g
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// randomBatch returns rows random inputs in [−1, 1) and targets: one-hot
// for the cross-entropies, uniform in [0, 1) for MSE.
func randomBatch(r *rand.Rand, rows, in, out int, l Loss) (x, y []float32) {
	x = make([]float32, rows*in)
	for i := range x {
		x[i] = 2*r.Float32() - 1
	}
	y = make([]float32, rows*out)
	for i := range rows {
		if l == MSE {
			for j := range out {
				y[i*out+j] = r.Float32()
			}
		} else {
			y[i*out+r.IntN(out)] = 1
		}
	}
	return x, y
}
