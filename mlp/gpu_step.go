package mlp

import (
	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/cuda"
)

// The work of a step on the device, queued on the gpuNet's stream in the
// order of the CPU's step (see step.go): the same products on the same
// layout, so that the two differ only by rounding.

// gpuAct returns the cuda code of activation a (the codes are the same).
func gpuAct(a Activation) cuda.Activation { return cuda.Activation(a) }

// gather queues copying rows idx[0 … rows−1] of d into the input and
// target buffers.
func (g *gpuNet) gather(d *gpuData, idx *cuda.Buffer[uint32], rows int) error {
	in, out := g.n.Inputs(), g.n.Outputs()
	var err error
	if d.xb != nil {
		err = cuda.GatherRowsBytes(g.s, g.act[0], gpuLD(in), d.xb, in, d.rows, idx, rows, in, d.div)
	} else {
		err = cuda.GatherRows(g.s, g.act[0], gpuLD(in), d.x, in, d.rows, idx, rows, in)
	}
	if err != nil {
		return err
	}
	return cuda.GatherRows(g.s, g.y, out, d.y, out, d.rows, idx, rows, out)
}

// forward queues the forward pass of the first rows rows of the input
// buffer. A SoftmaxCrossEntropy network leaves its logits in the last
// delta buffer (the loss kernel takes them).
func (g *gpuNet) forward(rows int) error {
	last := len(g.n.layers) - 1
	for l, L := range g.n.layers {
		c, ldc := g.act[l+1], gpuLD(L.Out)
		fused := l == last && g.n.arch.Loss == SoftmaxCrossEntropy
		if fused {
			c, ldc = g.delta[l], L.Out
		}
		// The element-wise activations are applied as the product is
		// stored; softmax, a row at a time, by a kernel of its own.
		act := gpuAct(L.Activation)
		if fused || act == cuda.Softmax {
			act = cuda.Identity
		}
		if err := cuda.SgemmAct(g.s, act, gemm.NoTrans, gemm.NoTrans, rows, L.Out, L.In+1, 1, g.act[l], gpuLD(L.In), g.block[l], L.Out, 0, c, ldc); err != nil {
			return err
		}
		if fused || L.Activation != Softmax {
			continue
		}
		if err := cuda.BiasAct(g.s, cuda.Softmax, c, rows, L.Out, ldc, nil); err != nil {
			return err
		}
	}
	return nil
}

// loss queues the loss of the rows samples, adding their summed loss and
// hits to g.stats and, if grad, writing the gradient of the batch mean with
// respect to the output layer's pre-activations into the last delta
// buffer.
func (g *gpuNet) loss(rows int, grad bool) error {
	last := len(g.n.layers) - 1
	L := g.n.layers[last]
	out := L.Out
	var dz *cuda.Buffer[float32]
	if grad {
		dz = g.delta[last]
	}
	scale := float32(1 / float64(rows))
	switch g.n.arch.Loss {
	case SoftmaxCrossEntropy:
		return cuda.SoftmaxCE(g.s, g.delta[last], out, g.y, out, dz, out, rows, out, scale, g.stats)
	case MSE:
		return cuda.MSE(g.s, gpuAct(L.Activation), g.act[last+1], gpuLD(out), g.y, out, dz, out, rows, out, scale, g.stats)
	}
	return cuda.CCE(g.s, gpuAct(L.Activation), g.act[last+1], gpuLD(out), g.y, out, dz, out, rows, out, scale, g.stats)
}

// backward queues the gradients of all parameters from the gradient in
// the last delta buffer: per layer [X | 1]ᵀ·dZ (weights and, in its last
// row, biases), then dZ·Wᵀ and the previous activation's derivative.
func (g *gpuNet) backward(rows int) error {
	for l := len(g.n.layers) - 1; l >= 0; l-- {
		L := g.n.layers[l]
		if err := cuda.Sgemm(g.s, gemm.Trans, gemm.NoTrans, L.In+1, L.Out, rows, 1, g.act[l], gpuLD(L.In), g.delta[l], L.Out, 0, g.gradBlock[l], L.Out); err != nil {
			return err
		}
		if l == 0 {
			break
		}
		// dZ·Wᵀ times the previous activation's derivative, taken from its
		// outputs as the product is stored; softmax's, which mixes a row,
		// by a kernel of its own.
		prev := gpuAct(g.n.layers[l-1].Activation)
		act, y := prev, g.act[l]
		if act == cuda.Softmax || act == cuda.Identity {
			act, y = cuda.Identity, nil
		}
		if err := cuda.SgemmActGrad(g.s, act, gemm.NoTrans, gemm.Trans, rows, L.In, L.Out, 1, g.delta[l], L.Out, g.weight[l], L.Out, 0, g.delta[l-1], L.In, y, gpuLD(L.In)); err != nil {
			return err
		}
		if prev == cuda.Softmax {
			if err := cuda.ActGrad(g.s, prev, g.delta[l-1], L.In, g.act[l], gpuLD(L.In), rows, L.In); err != nil {
				return err
			}
		}
	}
	return nil
}

// step queues a training step on rows samples of d picked by idx: gather,
// forward, loss (summed into g.stats), backward and one update of all
// parameters. It neither allocates nor synchronises, so that it can be
// captured as a graph.
func (g *gpuNet) step(d *gpuData, idx *cuda.Buffer[uint32], rows int) error {
	if err := g.gather(d, idx, rows); err != nil {
		return err
	}
	if err := g.forward(rows); err != nil {
		return err
	}
	if err := g.loss(rows, true); err != nil {
		return err
	}
	if err := g.backward(rows); err != nil {
		return err
	}
	return g.opt.update(g.s, g.params, g.grads)
}

// evaluate returns the mean loss and the accuracy of the network on d,
// run in batches of up to g.rows samples on the device with the
// statistics in g.stats, and one synchronisation at the end.
func (g *gpuNet) evaluate(d *gpuData) (loss, accuracy float64, err error) {
	if d.rows == 0 {
		return 0, 0, nil
	}
	if err := g.stats.Fill(g.s, 0); err != nil {
		return 0, 0, err
	}
	for b0 := 0; b0 < d.rows; b0 += g.rows {
		rows := min(g.rows, d.rows-b0)
		if err := g.gather(d, d.order.Slice(b0, b0+rows), rows); err != nil {
			return 0, 0, err
		}
		if err := g.forward(rows); err != nil {
			return 0, 0, err
		}
		if err := g.loss(rows, false); err != nil {
			return 0, 0, err
		}
	}
	loss, hits, err := g.sums()
	if err != nil {
		return 0, 0, err
	}
	return loss / float64(d.rows), hits / float64(d.rows), nil
}

// sums reads g.stats back and returns the summed loss and hits.
func (g *gpuNet) sums() (loss, hits float64, err error) {
	st, err := g.stats.Read()
	if err != nil {
		return 0, 0, err
	}
	loss, hits = cuda.SumStats(st)
	return loss, hits, nil
}
