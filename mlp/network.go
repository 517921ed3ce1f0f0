package mlp

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gokernels/gemm"
)

// Limits on an architecture, so that a corrupt file or a typing mistake
// fails cleanly instead of allocating without bound.
const (
	maxLayers = 1024
	maxWidth  = 1 << 24
	maxParams = 1 << 30
)

// Architecture describes a network: the widths of its layers, the
// activation of each dense layer and the loss it is trained with.
type Architecture struct {
	// Sizes lists the layer widths, inputs first: {784, 200, 10} has two
	// dense layers, 784→200 and 200→10.
	Sizes []int
	// Activations holds the activation of each dense layer, so
	// len(Activations) = len(Sizes)−1.
	Activations []Activation
	// Loss is the loss the network is trained with. SoftmaxCrossEntropy
	// needs Softmax on the output layer.
	Loss Loss
}

// Validate reports the first problem that makes a an invalid architecture.
func (a Architecture) Validate() error {
	if len(a.Sizes) < 2 {
		return fmt.Errorf("mlp: %d layer sizes: need at least 2 (inputs and outputs)", len(a.Sizes))
	}
	if len(a.Sizes)-1 > maxLayers {
		return fmt.Errorf("mlp: %d dense layers: at most %d", len(a.Sizes)-1, maxLayers)
	}
	params := 0
	for i, s := range a.Sizes {
		if s < 1 || s > maxWidth {
			return fmt.Errorf("mlp: layer size %d (position %d) is not in [1, %d]", s, i, maxWidth)
		}
		if i > 0 {
			params += (a.Sizes[i-1] + 1) * s
			if params > maxParams {
				return fmt.Errorf("mlp: more than %d parameters", maxParams)
			}
		}
	}
	if len(a.Activations) != len(a.Sizes)-1 {
		return fmt.Errorf("mlp: %d activations for %d dense layers", len(a.Activations), len(a.Sizes)-1)
	}
	for _, act := range a.Activations {
		if !act.valid() {
			return fmt.Errorf("mlp: unknown activation %d", int(act))
		}
	}
	if !a.Loss.valid() {
		return fmt.Errorf("mlp: unknown loss %d", int(a.Loss))
	}
	if a.Loss == SoftmaxCrossEntropy && a.Activations[len(a.Activations)-1] != Softmax {
		return errors.New("mlp: loss softmax-ce needs the softmax activation on the output layer")
	}
	return nil
}

// clone returns a copy of a that shares no memory with it.
func (a Architecture) clone() Architecture {
	return Architecture{Sizes: slices.Clone(a.Sizes), Activations: slices.Clone(a.Activations), Loss: a.Loss}
}

// Layer describes one dense layer of a network. W and B alias the network's
// parameters: writing to them changes the network.
type Layer struct {
	// In and Out are the layer's input and output widths.
	In, Out int
	// Activation is applied to each output.
	Activation Activation
	// W holds the In×Out weights, row-major: W[i*Out+j] connects input i
	// to output j.
	W []float32
	// B holds the Out biases.
	B []float32
}

// A Network is a multilayer perceptron of dense layers together with the
// buffers used to run it. Run its products on a Tiler set with SetTilers
// before calling any method that computes.
//
// A Network is not safe for concurrent use.
type Network struct {
	arch   Architecture
	layers []Layer
	offs   []int     // offset of layer l's (In+1)×Out block in params
	params []float32 // all parameters: per layer, W then B
	grads  []float32 // gradients, laid out as params

	tiler, gradTiler *gemm.Tiler

	buf     buffers
	pass    pass
	scratch Dataset // a batch given as slices, while it is loaded
	minPar  int     // minParallel; tests lower it to exercise Do
	// Range functions given to Tiler.Do, made once so that a step does
	// not allocate.
	fnGather, fnBias, fnActivate, fnLoss, fnActGrad, fnUpdate func(lo, hi int)
}

// New returns a network with the given architecture, its weights drawn
// Glorot-uniform from seed (uniform in ±√(6/(In+Out))) and its biases zero.
func New(arch Architecture, seed uint64) (*Network, error) {
	n, err := newNetwork(arch)
	if err != nil {
		return nil, err
	}
	r := newRNG(seed, streamInit)
	for _, L := range n.layers {
		lim := float32(math.Sqrt(6 / float64(L.In+L.Out)))
		for i := range L.W {
			L.W[i] = (2*r.float32() - 1) * lim
		}
	}
	return n, nil
}

// newNetwork returns a network with the architecture and zero parameters.
func newNetwork(arch Architecture) (*Network, error) {
	if err := arch.Validate(); err != nil {
		return nil, err
	}
	n := &Network{arch: arch.clone()}
	size := 0
	for l := range arch.Activations {
		n.offs = append(n.offs, size)
		size += (arch.Sizes[l] + 1) * arch.Sizes[l+1]
	}
	n.params = make([]float32, size)
	n.grads = make([]float32, size)
	for l, act := range arch.Activations {
		in, out := arch.Sizes[l], arch.Sizes[l+1]
		blk := n.params[n.offs[l] : n.offs[l]+(in+1)*out]
		n.layers = append(n.layers, Layer{
			In: in, Out: out, Activation: act,
			W: blk[: in*out : in*out],
			B: blk[in*out:],
		})
	}
	n.minPar = minParallel
	n.fnGather = n.gatherRows
	n.fnBias = n.biasRows
	n.fnActivate = n.activateRows
	n.fnLoss = n.lossRows
	n.fnActGrad = n.actGradRows
	n.fnUpdate = n.updateRange
	return n, nil
}

// Architecture returns a copy of the network's architecture.
func (n *Network) Architecture() Architecture { return n.arch.clone() }

// Layers returns the network's dense layers, inputs first. The slice is a
// copy; the weights and biases in it alias the network's.
func (n *Network) Layers() []Layer { return slices.Clone(n.layers) }

// Params returns all parameters in one slice, layer by layer, each layer's
// weights (row-major) followed by its biases. It aliases the network.
func (n *Network) Params() []float32 { return n.params }

// Inputs returns the width of the input layer.
func (n *Network) Inputs() int { return n.arch.Sizes[0] }

// Outputs returns the width of the output layer.
func (n *Network) Outputs() int { return n.arch.Sizes[len(n.arch.Sizes)-1] }

// Loss returns the loss the network is trained with.
func (n *Network) Loss() Loss { return n.arch.Loss }

// SetTilers sets the Tiler that runs the network's matrix products and
// element-wise work, and the one that runs the weight-gradient products
// dW = Xᵀ·dY, whose inner dimension is the batch: t.WithStrategy(gemm.SplitK),
// for example, splits those along the batch on t's own workers. grad may be
// nil or t itself to use t for everything. The Tilers stay the caller's to
// close. SetTilers panics if t is nil.
func (n *Network) SetTilers(t, grad *gemm.Tiler) {
	if t == nil {
		panic("mlp: SetTilers: nil Tiler")
	}
	if grad == nil {
		grad = t
	}
	n.tiler, n.gradTiler = t, grad
}

// Tiler returns the Tiler set by SetTilers, or nil.
func (n *Network) Tiler() *gemm.Tiler { return n.tiler }

// GradTiler returns the Tiler that runs the weight-gradient products, or
// nil if none is set.
func (n *Network) GradTiler() *gemm.Tiler { return n.gradTiler }

func (n *Network) mustHaveTiler(method string) {
	if n.tiler == nil {
		panic("mlp: Network." + method + " called before SetTilers")
	}
}
