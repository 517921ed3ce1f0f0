package mlp

import (
	"fmt"

	"github.com/gokernels/gemm"
)

// minParallel is the work, in units of about a third of a nanosecond (one
// element of a vectorised pass), below which element-wise work runs on the
// calling goroutine: waking a worker that has gone to sleep costs ten
// microseconds or more.
const minParallel = 1 << 15

// cost returns the work per element of activation a, or of its
// derivative, in the units of minParallel.
func cost(a Activation) int {
	switch a {
	case Tanh:
		return 32
	case Softmax:
		return 16
	}
	return 1
}

// buffers holds the activations and gradients of one batch. They are sized
// for the largest batch seen so far and reused for every smaller one.
type buffers struct {
	rows int // capacity, in rows
	// act[0] is the input batch; act[l+1] holds the outputs of layer l.
	// Each row of act[l] holds Sizes[l] values and then a one, so that
	// the bias row of the next layer's parameters adds the bias; rows are
	// actLD(Sizes[l]) apart.
	act [][]float32
	// delta[l] holds the gradient of the loss with respect to the
	// pre-activations of layer l, rows×Out. For a SoftmaxCrossEntropy
	// network the forward pass leaves the output logits in the last one.
	delta   [][]float32
	y       []float32 // targets, rows×Outputs
	rowLoss []float64 // loss of each sample
	rowHit  []bool    // whether each sample is classified correctly
}

// pass holds the arguments of the range functions run by Tiler.Do.
type pass struct {
	layer int
	grad  bool    // the loss pass also writes gradients
	scale float64 // 1/rows: the batch mean
	opt   Optimizer
	data  *Dataset
	idx   []int // rows to gather from data; nil: consecutive from first
	first int
}

// reserve makes the buffers hold at least rows rows.
func (n *Network) reserve(rows int) {
	if rows <= n.buf.rows {
		return
	}
	b := buffers{rows: rows}
	for l, s := range n.arch.Sizes {
		ld := actLD(s)
		a := make([]float32, rows*ld)
		for i := range rows {
			a[i*ld+s] = 1
		}
		b.act = append(b.act, a)
		if l > 0 {
			b.delta = append(b.delta, make([]float32, rows*s))
		}
	}
	b.y = make([]float32, rows*n.Outputs())
	b.rowLoss = make([]float64, rows)
	b.rowHit = make([]bool, rows)
	n.buf = b
}

// actLD returns the distance between rows of an activation buffer of the
// given width: room for the width and the column of ones, rounded up to 64
// bytes so that rows start on cache lines.
func actLD(width int) int {
	return (width + 1 + 15) &^ 15
}

// parallel runs f over [0, size) on the Tiler's workers, or on the caller
// alone when work (estimated in the units of minParallel) is too small to
// share.
func (n *Network) parallel(size, work int, f func(lo, hi int)) {
	if work < n.minPar || n.tiler.Workers() == 1 {
		f(0, size)
		return
	}
	n.tiler.Do(size, f)
}

// load copies rows of d into the input and target buffers: d's rows idx[i]
// when idx is not nil, else rows first … first+rows−1.
func (n *Network) load(d *Dataset, idx []int, first, rows int) {
	n.reserve(rows)
	n.pass.data, n.pass.idx, n.pass.first = d, idx, first
	n.parallel(rows, rows*(d.Inputs+d.Outputs), n.fnGather)
	n.pass.data, n.pass.idx = nil, nil
}

// gatherAhead is how many rows ahead gatherRows prefetches: about a DRAM
// latency of conversion work.
const gatherAhead = 2

func (n *Network) gatherRows(lo, hi int) {
	d := n.pass.data
	in, out := d.Inputs, d.Outputs
	x, ld := n.buf.act[0], actLD(in)
	row := func(i int) int {
		if n.pass.idx != nil {
			return n.pass.idx[i]
		}
		return n.pass.first + i
	}
	for i := lo; i < hi; i++ {
		s := row(i)
		if d.X == nil {
			// Shuffled rows are not where the hardware prefetchers
			// look: ask for the row after next.
			if i+gatherAhead < hi {
				p := row(i + gatherAhead)
				prefetch(d.XBytes[p*in : p*in+in])
			}
			bytesToFloat(x[i*ld:i*ld+in], d.XBytes[s*in:s*in+in], d.XDivisor)
		} else {
			copy(x[i*ld:i*ld+in], d.X[s*in:s*in+in])
		}
		copy(n.buf.y[i*out:i*out+out], d.Y[s*out:s*out+out])
	}
}

// fusedSoftmax reports whether the output layer's pre-activations are
// kept apart from its outputs, for SoftmaxCrossEntropy.
func (n *Network) fusedSoftmax() bool { return n.arch.Loss == SoftmaxCrossEntropy }

// forward computes the activations of every layer for the first rows rows
// of the input buffer.
func (n *Network) forward(rows int) { n.forwardFrom(nil, rows) }

// forwardFrom is forward with the inputs in x (rows×Inputs, rows
// contiguous) instead of the input buffer, if x is not nil: the first
// layer's product reads them where they are, and a pass of its own adds
// the first layer's bias, which the input buffer's column of ones adds
// otherwise.
func (n *Network) forwardFrom(x []float32, rows int) {
	for l := range n.layers {
		L := &n.layers[l]
		w := n.params[n.offs[l] : n.offs[l]+(L.In+1)*L.Out]
		c, ldc := n.preact(l)
		n.pass.layer = l
		if l == 0 && x != nil {
			n.tiler.Sgemm(gemm.NoTrans, gemm.NoTrans, rows, L.Out, L.In, 1, x, L.In, w, L.Out, 0, c, ldc)
			n.parallel(rows, rows*L.Out, n.fnBias)
		} else {
			n.tiler.Sgemm(gemm.NoTrans, gemm.NoTrans, rows, L.Out, L.In+1, 1, n.buf.act[l], actLD(L.In), w, L.Out, 0, c, ldc)
		}
		if L.Activation == Identity {
			continue
		}
		n.parallel(rows, rows*L.Out*cost(L.Activation), n.fnActivate)
	}
}

// preact returns where layer l's product goes, and its leading dimension:
// the layer's activations, which the activation then overwrites, or the
// softmax's inputs when the last layer's softmax is fused with the loss.
func (n *Network) preact(l int) ([]float32, int) {
	L := &n.layers[l]
	if n.fusedAt(l) {
		return n.buf.delta[l], L.Out
	}
	return n.buf.act[l+1], actLD(L.Out)
}

// fusedAt reports whether layer l is the last layer and its softmax is
// fused with the loss.
func (n *Network) fusedAt(l int) bool {
	return l == len(n.layers)-1 && n.fusedSoftmax()
}

// biasRows adds layer n.pass.layer's bias to rows [lo, hi) of its product.
func (n *Network) biasRows(lo, hi int) {
	l := n.pass.layer
	b := n.layers[l].B
	out, ld := n.preact(l)
	for i := lo; i < hi; i++ {
		row := out[i*ld : i*ld+len(b)]
		for j, v := range b {
			row[j] += v
		}
	}
}

func (n *Network) activateRows(lo, hi int) {
	l := n.pass.layer
	L := &n.layers[l]
	y, ld := n.buf.act[l+1], actLD(L.Out)
	if n.fusedAt(l) {
		z := n.buf.delta[l]
		for i := lo; i < hi; i++ {
			softmaxRow(y[i*ld:i*ld+L.Out], z[i*L.Out:i*L.Out+L.Out])
		}
		return
	}
	activate(L.Activation, y, ld, L.Out, lo, hi)
}

// lossPass computes the loss and correctness of each of the rows samples
// and, if grad, the gradient with respect to the output layer's
// pre-activations, of the batch mean, into the last delta buffer. It
// returns the sum of the losses and the number of correct samples.
func (n *Network) lossPass(rows int, grad bool) (loss float64, hits int) {
	n.pass.grad, n.pass.scale = grad, 1/float64(rows)
	n.parallel(rows, 64*rows*n.Outputs(), n.fnLoss)
	// Summed in row order, whatever the worker count.
	for i, v := range n.buf.rowLoss[:rows] {
		loss += v
		if n.buf.rowHit[i] {
			hits++
		}
	}
	return loss, hits
}

func (n *Network) lossRows(lo, hi int) {
	last := len(n.layers) - 1
	L := &n.layers[last]
	out := L.Out
	p, z, y := n.buf.act[last+1], n.buf.delta[last], n.buf.y
	ld := actLD(out)
	for i := lo; i < hi; i++ {
		pr := p[i*ld : i*ld+out]
		zr := z[i*out : i*out+out]
		yr := y[i*out : i*out+out]
		var g []float32
		if n.pass.grad {
			g = zr
		}
		n.buf.rowLoss[i] = lossRow(n.arch.Loss, L.Activation, pr, zr, yr, g, n.pass.scale)
		n.buf.rowHit[i] = argmax(pr) == argmax(yr)
	}
}

// backward computes the gradients of all parameters from the gradient in
// the last delta buffer, for a batch of rows samples.
func (n *Network) backward(rows int) {
	for l := len(n.layers) - 1; l >= 0; l-- {
		L := &n.layers[l]
		off, size := n.offs[l], (L.In+1)*L.Out
		dz := n.buf.delta[l]
		// [X | 1]ᵀ·dZ: the weight gradient and, in its last row, the bias
		// gradient.
		n.gradTiler.Sgemm(gemm.Trans, gemm.NoTrans, L.In+1, L.Out, rows, 1, n.buf.act[l], actLD(L.In), dz, L.Out, 0, n.grads[off:off+size], L.Out)
		if l == 0 {
			break
		}
		// dZ·Wᵀ, then the derivative of the previous layer's activation.
		w := n.params[off : off+L.In*L.Out]
		n.tiler.Sgemm(gemm.NoTrans, gemm.Trans, rows, L.In, L.Out, 1, dz, L.Out, w, L.Out, 0, n.buf.delta[l-1], L.In)
		if n.layers[l-1].Activation == Identity {
			continue
		}
		n.pass.layer = l - 1
		n.parallel(rows, rows*L.In*cost(n.layers[l-1].Activation), n.fnActGrad)
	}
}

func (n *Network) actGradRows(lo, hi int) {
	l := n.pass.layer
	L := &n.layers[l]
	activationGrad(L.Activation, n.buf.delta[l], L.Out, n.buf.act[l+1], actLD(L.Out), L.Out, lo, hi)
}

// step trains on the rows samples in the input buffers: forward, loss,
// backward and one optimizer update. It returns the summed loss and the
// number of correct samples, measured before the update.
func (n *Network) step(rows int, opt Optimizer) (loss float64, hits int) {
	n.forward(rows)
	loss, hits = n.lossPass(rows, true)
	n.backward(rows)
	opt.start(n)
	n.pass.opt = opt
	n.parallel(len(n.params), 4*len(n.params), n.fnUpdate)
	n.pass.opt = nil
	return loss, hits
}

func (n *Network) updateRange(lo, hi int) {
	n.pass.opt.update(n.params, n.grads, lo, hi)
}

// TrainBatch runs one training step on a batch of rows samples: x holds
// rows×Inputs values and y rows×Outputs targets. It returns the batch's
// mean loss and the fraction of samples classified correctly, both
// measured before the update. It panics if rows < 1 or x or y is short.
func (n *Network) TrainBatch(x, y []float32, rows int, opt Optimizer) (loss, accuracy float64) {
	n.mustHaveTiler("TrainBatch")
	d := n.batchData(x, y, rows, "TrainBatch")
	if opt == nil {
		panic("mlp: TrainBatch: nil Optimizer")
	}
	n.load(d, nil, 0, rows)
	n.scratch = Dataset{}
	sum, hits := n.step(rows, opt)
	return sum / float64(rows), float64(hits) / float64(rows)
}

// batchData checks a batch given as slices and wraps it in a Dataset.
func (n *Network) batchData(x, y []float32, rows int, method string) *Dataset {
	if rows < 1 {
		panic(fmt.Sprintf("mlp: %s: rows = %d < 1", method, rows))
	}
	if len(x) < rows*n.Inputs() {
		panic(fmt.Sprintf("mlp: %s: len(x) = %d < %d rows × %d inputs", method, len(x), rows, n.Inputs()))
	}
	if y != nil && len(y) < rows*n.Outputs() {
		panic(fmt.Sprintf("mlp: %s: len(y) = %d < %d rows × %d outputs", method, len(y), rows, n.Outputs()))
	}
	n.scratch = Dataset{X: x[:rows*n.Inputs()], Y: y, Inputs: n.Inputs(), Outputs: n.Outputs()}
	return &n.scratch
}

// maxForwardRows bounds the batch Predict runs as one product per layer.
const maxForwardRows = 1 << 15

// Predict computes the network's outputs for rows samples: x holds
// rows×Inputs values and dst receives rows×Outputs outputs. Up to 32768
// samples (or the largest batch seen so far, if larger) run as one batch,
// one matrix product per layer; more run in batches of that size. The
// first layer reads x where it is, without copying it. Predict allocates
// only when the batch is larger than any before.
func (n *Network) Predict(dst, x []float32, rows int) {
	n.mustHaveTiler("Predict")
	if len(dst) < rows*n.Outputs() {
		panic(fmt.Sprintf("mlp: Predict: len(dst) = %d < %d rows × %d outputs", len(dst), rows, n.Outputs()))
	}
	if rows == 0 {
		return
	}
	d := n.batchData(x, nil, rows, "Predict")
	chunk := max(n.buf.rows, min(rows, maxForwardRows))
	in, out, last := n.Inputs(), n.Outputs(), len(n.layers)
	ldy := actLD(out)
	for b0 := 0; b0 < rows; b0 += chunk {
		b := min(chunk, rows-b0)
		n.reserve(b)
		n.forwardFrom(d.X[b0*in:(b0+b)*in], b)
		for i := range b {
			copy(dst[(b0+i)*out:(b0+i+1)*out], n.buf.act[last][i*ldy:])
		}
	}
	n.scratch = Dataset{}
}
