package mlp

import (
	"fmt"
	"math"
)

// An Optimizer updates a network's parameters from their gradients. The
// implementations are *SGD, *RMSprop and *Adam; their update rules are
// Keras's. An optimizer keeps per-parameter state, allocated at its first
// step, and serves one network: using it with a second network panics.
// Its exported fields may be changed between steps.
type Optimizer interface {
	// Name returns the optimizer's name: sgd, rmsprop or adam.
	Name() string
	// start prepares a step of network n.
	start(n *Network)
	// update updates params[lo:hi] from grads[lo:hi]. Calls for disjoint
	// ranges of one step run concurrently.
	update(params, grads []float32, lo, hi int)
}

// bind attaches optimizer state to n on the first step and returns whether
// this is the first step; it panics if the optimizer belongs to another
// network.
func bind(name string, owner **Network, n *Network) bool {
	switch *owner {
	case n:
		return false
	case nil:
		*owner = n
		return true
	}
	panic(fmt.Sprintf("mlp: %s optimizer used with a second network", name))
}

// SGD is stochastic gradient descent with optional momentum:
// v = Momentum·v − LR·g; w += v (with Momentum 0: w −= LR·g).
type SGD struct {
	LR       float32 // learning rate
	Momentum float32 // 0 for plain SGD

	net      *Network
	velocity []float32
}

// NewSGD returns SGD with the given learning rate and momentum (Keras's
// defaults are 0.01 and 0).
func NewSGD(lr, momentum float32) *SGD { return &SGD{LR: lr, Momentum: momentum} }

// Name returns "sgd".
func (o *SGD) Name() string { return "sgd" }

func (o *SGD) start(n *Network) {
	if bind("sgd", &o.net, n) {
		o.velocity = make([]float32, len(n.params))
	}
}

func (o *SGD) update(params, grads []float32, lo, hi int) {
	w, g := params[lo:hi], grads[lo:hi:hi]
	lr, mu := o.LR, o.Momentum
	if mu == 0 {
		for i, gi := range g {
			w[i] -= lr * gi
		}
		return
	}
	v := o.velocity[lo:hi:hi]
	for i, gi := range g {
		vi := mu*v[i] - lr*gi
		v[i] = vi
		w[i] += vi
	}
}

// RMSprop divides each gradient by a running root mean square:
// ms = Rho·ms + (1−Rho)·g²; w −= LR·g/(√ms + Epsilon).
type RMSprop struct {
	LR      float32 // learning rate
	Rho     float32 // decay of the running mean square
	Epsilon float32 // added to the root mean square

	net *Network
	ms  []float32
}

// NewRMSprop returns RMSprop with Keras's defaults: LR 0.001, Rho 0.9,
// Epsilon 1e-7.
func NewRMSprop() *RMSprop { return &RMSprop{LR: 0.001, Rho: 0.9, Epsilon: 1e-7} }

// Name returns "rmsprop".
func (o *RMSprop) Name() string { return "rmsprop" }

func (o *RMSprop) start(n *Network) {
	if bind("rmsprop", &o.net, n) {
		o.ms = make([]float32, len(n.params))
	}
}

func (o *RMSprop) update(params, grads []float32, lo, hi int) {
	rmsprop(params[lo:hi], grads[lo:hi], o.ms[lo:hi], o.LR, o.Rho, o.Epsilon)
}

// Adam keeps running means of the gradients and of their squares, with
// Keras's bias correction folded into the step size: at step t,
// m = Beta1·m + (1−Beta1)·g; v = Beta2·v + (1−Beta2)·g²;
// w −= α·m/(√v + Epsilon) with α = LR·√(1−Beta2^t)/(1−Beta1^t).
type Adam struct {
	LR      float32 // learning rate
	Beta1   float32 // decay of the running mean
	Beta2   float32 // decay of the running mean square
	Epsilon float32 // added to the root mean square

	net   *Network
	m, v  []float32
	t     int
	alpha float32
}

// NewAdam returns Adam with Keras's defaults: LR 0.001, Beta1 0.9,
// Beta2 0.999, Epsilon 1e-7.
func NewAdam() *Adam { return &Adam{LR: 0.001, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7} }

// Name returns "adam".
func (o *Adam) Name() string { return "adam" }

func (o *Adam) start(n *Network) {
	if bind("adam", &o.net, n) {
		o.m = make([]float32, len(n.params))
		o.v = make([]float32, len(n.params))
	}
	o.t++
	t := float64(o.t)
	o.alpha = float32(float64(o.LR) * math.Sqrt(1-math.Pow(float64(o.Beta2), t)) / (1 - math.Pow(float64(o.Beta1), t)))
}

func (o *Adam) update(params, grads []float32, lo, hi int) {
	w, g := params[lo:hi], grads[lo:hi:hi]
	m, v := o.m[lo:hi:hi], o.v[lo:hi:hi]
	b1, b2, eps, alpha := o.Beta1, o.Beta2, o.Epsilon, o.alpha
	for i, gi := range g {
		mi := b1*m[i] + (1-b1)*gi
		vi := b2*v[i] + (1-b2)*(gi*gi)
		m[i], v[i] = mi, vi
		w[i] -= alpha * mi / (float32(math.Sqrt(float64(vi))) + eps)
	}
}
