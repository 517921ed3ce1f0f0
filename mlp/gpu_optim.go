package mlp

import (
	"fmt"
	"math"

	"github.com/gokernels/gemm/cuda"
)

// gpuOptimizer is the state of an Optimizer on the device: SGD's
// velocity, RMSprop's mean square, or Adam's moments and step state
// (beta1^t, beta2^t and the step size, advanced on the device).
type gpuOptimizer struct {
	host  Optimizer
	state []*cuda.Buffer[float32]
	steps int // updates queued since the last download, for Adam's t
}

// newGPUOptimizer binds opt to g's network, as its first CPU step would,
// and uploads its state. It returns an error for an Optimizer that is not
// one of this package's.
func newGPUOptimizer(g *gpuNet, opt Optimizer) (*gpuOptimizer, error) {
	o := &gpuOptimizer{host: opt}
	n, size := g.n, len(g.n.params)
	var host [][]float32
	switch h := opt.(type) {
	case *SGD:
		if bind("sgd", &h.net, n) {
			h.velocity = make([]float32, size)
		}
		host = [][]float32{h.velocity}
	case *RMSprop:
		if bind("rmsprop", &h.net, n) {
			h.ms = make([]float32, size)
		}
		host = [][]float32{h.ms}
	case *Adam:
		if bind("adam", &h.net, n) {
			h.m = make([]float32, size)
			h.v = make([]float32, size)
		}
		// beta1^t, beta2^t; the step size is computed before each use.
		t := float64(h.t)
		st := []float32{float32(math.Pow(float64(h.Beta1), t)), float32(math.Pow(float64(h.Beta2), t)), 0}
		host = [][]float32{h.m, h.v, st}
	default:
		return nil, fmt.Errorf("mlp: optimizer %T is not supported on the GPU (want *SGD, *RMSprop or *Adam)", opt)
	}
	for _, v := range host {
		b, err := gpuAlloc[float32](g, len(v))
		if err != nil {
			return nil, err
		}
		if err := b.CopyFromHost(v); err != nil {
			return nil, err
		}
		o.state = append(o.state, b)
	}
	return o, nil
}

// update queues one update of all parameters w from their gradients g,
// with the optimizer's hyper-parameters as they are now.
func (o *gpuOptimizer) update(s *cuda.Stream, w, g *cuda.Buffer[float32]) error {
	o.steps++
	switch h := o.host.(type) {
	case *SGD:
		return cuda.SGD(s, w, g, o.state[0], h.LR, h.Momentum)
	case *RMSprop:
		return cuda.RMSprop(s, w, g, o.state[0], h.LR, h.Rho, h.Epsilon)
	case *Adam:
		return cuda.Adam(s, w, g, o.state[0], o.state[1], o.state[2], h.LR, h.Beta1, h.Beta2, h.Epsilon)
	}
	panic("mlp: internal error: unexpected optimizer")
}

// hyper returns the bits of the optimizer's hyper-parameters: a captured
// step holds them, so a change needs a new capture.
func (o *gpuOptimizer) hyper() [4]uint32 {
	b := math.Float32bits
	switch h := o.host.(type) {
	case *SGD:
		return [4]uint32{b(h.LR), b(h.Momentum)}
	case *RMSprop:
		return [4]uint32{b(h.LR), b(h.Rho), b(h.Epsilon)}
	case *Adam:
		return [4]uint32{b(h.LR), b(h.Beta1), b(h.Beta2), b(h.Epsilon)}
	}
	panic("mlp: internal error: unexpected optimizer")
}

// download copies the state back into the host optimizer, which then
// goes on from where the device stopped.
func (o *gpuOptimizer) download() error {
	var host [][]float32
	switch h := o.host.(type) {
	case *SGD:
		host = [][]float32{h.velocity}
	case *RMSprop:
		host = [][]float32{h.ms}
	case *Adam:
		host = [][]float32{h.m, h.v}
	}
	for i, v := range host {
		if err := o.state[i].CopyToHost(v); err != nil {
			return err
		}
	}
	if h, ok := o.host.(*Adam); ok {
		h.t += o.steps
	}
	o.steps = 0
	return nil
}
