package mlp

import (
	"fmt"
	"math"
)

// Loss is the function a network is trained to minimise. Every loss is the
// mean over the batch of a per-sample loss.
type Loss int

const (
	// CrossEntropy is Keras's categorical cross-entropy on probabilities:
	// each output row p is normalised to sum 1, clipped to [ε, 1−ε] with
	// ε = 1e-7, and the sample's loss is −Σ y·log p. It suits any output
	// activation with positive outputs (sigmoid, as in the original
	// experiment, or softmax), and its gradient runs through the
	// normalisation and the clip (zero where the clip is active).
	CrossEntropy Loss = iota
	// SoftmaxCrossEntropy is softmax followed by cross-entropy, computed
	// together from the logits z: the sample's loss is Σ y·(logΣe^z − z)
	// and the gradient with respect to z is p·Σy − y. It needs the Softmax
	// activation on the output layer and never takes the log of a rounded
	// probability, so it is stable for any logits.
	SoftmaxCrossEntropy
	// MSE is the mean squared error, averaged over the outputs of a sample
	// (Keras's mean_squared_error).
	MSE
)

var lossNames = [...]string{CrossEntropy: "cce", SoftmaxCrossEntropy: "softmax-ce", MSE: "mse"}

// String returns the loss's name: cce, softmax-ce or mse.
func (l Loss) String() string {
	if l.valid() {
		return lossNames[l]
	}
	return fmt.Sprintf("Loss(%d)", int(l))
}

func (l Loss) valid() bool { return l >= 0 && int(l) < len(lossNames) }

// ParseLoss returns the loss whose String is name.
func ParseLoss(name string) (Loss, error) {
	for i, n := range lossNames {
		if n == name {
			return Loss(i), nil
		}
	}
	return 0, fmt.Errorf("mlp: unknown loss %q (want cce, softmax-ce or mse)", name)
}

// Keras's clip bounds for cross-entropy, as float32 values.
var (
	clipLo = float64(float32(1e-7))
	clipHi = float64(float32(1 - 1e-7))
)

// lossRow computes the loss of one sample whose output row is p (the
// activations of the output layer), whose target row is y and, for
// SoftmaxCrossEntropy, whose logits are z. If grad is not nil it receives
// scale times the gradient of the sample's loss with respect to the output
// layer's pre-activations (the activation's derivative included, act being
// the output activation). grad may be the same slice as z.
func lossRow(l Loss, act Activation, p, z, y, grad []float32, scale float64) float64 {
	switch l {
	case CrossEntropy:
		var s float64
		for _, v := range p {
			s += float64(v)
		}
		inv := 1 / s
		// Only the outputs with a target other than 0 add to the loss
		// and to gq = Σ_j dL/dq_j·q_j.
		var loss, gq float64
		for j, t := range y {
			if t == 0 {
				continue
			}
			q := float64(p[j]) * inv
			c := min(max(q, clipLo), clipHi)
			loss -= float64(t) * math.Log(c)
			if q >= clipLo && q <= clipHi {
				gq -= float64(t) / c * q
			}
		}
		if grad == nil {
			return loss
		}
		// dL/dq_j = −y_j/q_j inside the clip range and 0 outside (so 0
		// wherever y_j is 0); dL/dp_k = (dL/dq_k − gq)/s.
		rest := float32(-gq * inv * scale)
		for j, t := range y {
			grad[j] = rest
			if t == 0 {
				continue
			}
			q := float64(p[j]) * inv
			var g float64
			if q >= clipLo && q <= clipHi {
				g = -float64(t) / q
			}
			grad[j] = float32((g - gq) * inv * scale)
		}
		activationGrad(act, grad, len(grad), p, len(p), len(p), 0, 1)
		return loss
	case SoftmaxCrossEntropy:
		m := math.Inf(-1)
		for _, v := range z {
			m = max(m, float64(v))
		}
		var sum, sy, yz float64
		for j, v := range z {
			sum += math.Exp(float64(v) - m)
			sy += float64(y[j])
			yz += float64(y[j]) * float64(v)
		}
		lse := m + math.Log(sum)
		loss := sy*lse - yz
		if grad != nil {
			for j, v := range z {
				pj := math.Exp(float64(v)-m) / sum
				grad[j] = float32((pj*sy - float64(y[j])) * scale)
			}
		}
		return loss
	case MSE:
		var loss float64
		n := float64(len(p))
		for j, v := range p {
			d := float64(v) - float64(y[j])
			loss += d * d
			if grad != nil {
				grad[j] = float32(2 * d / n * scale)
			}
		}
		if grad != nil {
			activationGrad(act, grad, len(grad), p, len(p), len(p), 0, 1)
		}
		return loss / n
	}
	panic(fmt.Sprintf("mlp: unknown loss %d", int(l)))
}

// argmax returns the index of the first largest element of x.
func argmax(x []float32) int {
	best := 0
	for j, v := range x {
		if v > x[best] {
			best = j
		}
	}
	return best
}
