package mlp

import (
	"github.com/gokernels/gemm/cuda"
)

// gpuLD returns the distance between rows of an activation buffer on the
// device: room for the width and the column of ones that adds the bias,
// rounded up to 16 bytes so that the SGEMM kernel can load float4 values.
func gpuLD(width int) int { return (width + 1 + 3) &^ 3 }

// gpuNet is a network on a device: its parameters, their gradients and
// the buffers of one batch, laid out as on the CPU (each layer's bias is
// the last row of its (In+1)×Out block, and each activation buffer has a
// column of ones after its values), plus the optimizer's state.
type gpuNet struct {
	n   *Network
	ctx *cuda.Context
	s   *cuda.Stream

	rows          int // batch capacity, in rows
	params, grads *cuda.Buffer[float32]
	block, weight []*cuda.Buffer[float32] // per layer: the (In+1)×Out block of params, its In×Out weights
	gradBlock     []*cuda.Buffer[float32] // per layer: the block of grads
	// act[0] is the input batch, act[l+1] the outputs of layer l:
	// rows × gpuLD(Sizes[l]), ones in column Sizes[l].
	act []*cuda.Buffer[float32]
	// delta[l] is the gradient with respect to the pre-activations of
	// layer l, rows × Sizes[l+1]; the last one holds the logits of a
	// SoftmaxCrossEntropy network after the forward pass.
	delta []*cuda.Buffer[float32]
	y     *cuda.Buffer[float32] // targets, rows × Outputs
	stats *cuda.Buffer[float32] // cuda.StatsLen(rows): the summed loss and hits, a pair per block of rows

	opt   *gpuOptimizer // nil when only evaluating
	frees []func() error
}

// gpuData is a data set on the device.
type gpuData struct {
	x, y  *cuda.Buffer[float32] // Len × Inputs (nil for bytes), Len × Outputs
	xb    *cuda.Buffer[uint8]   // Len × Inputs bytes, divided by div as batches are gathered; or nil
	div   float32
	order *cuda.Buffer[uint32] // 0 … Len−1, to gather batches in order; nil for a training set
	rows  int
}

// alloc allocates a buffer of n elements that free releases.
func gpuAlloc[T cuda.Elem](g *gpuNet, n int) (*cuda.Buffer[T], error) {
	b, err := cuda.Alloc[T](g.ctx, n)
	if err != nil {
		return nil, err
	}
	g.frees = append(g.frees, b.Free)
	return b, nil
}

// newGPUNet allocates n's buffers on ctx for batches of up to rows rows
// and uploads its parameters; with train, Sgemm's workspace has room for
// the backward pass's products too.
func newGPUNet(n *Network, ctx *cuda.Context, rows int, train bool) (g *gpuNet, err error) {
	g = &gpuNet{n: n, ctx: ctx, rows: rows}
	defer func() {
		if err != nil {
			g.free()
			g = nil
		}
	}()
	if g.s, err = ctx.NewStream(); err != nil {
		return g, err
	}
	g.frees = append(g.frees, g.s.Destroy)
	if g.params, err = gpuAlloc[float32](g, len(n.params)); err != nil {
		return g, err
	}
	if err = g.params.CopyFromHost(n.params); err != nil {
		return g, err
	}
	if g.grads, err = gpuAlloc[float32](g, len(n.params)); err != nil {
		return g, err
	}
	for l, L := range n.layers {
		off, size := n.offs[l], (L.In+1)*L.Out
		g.block = append(g.block, g.params.Slice(off, off+size))
		g.weight = append(g.weight, g.params.Slice(off, off+L.In*L.Out))
		g.gradBlock = append(g.gradBlock, g.grads.Slice(off, off+size))
	}
	for l, width := range n.arch.Sizes {
		a, err := gpuAlloc[float32](g, rows*gpuLD(width))
		if err != nil {
			return g, err
		}
		// The ones column; the values are written before they are read.
		if err := a.Fill(g.s, 1); err != nil {
			return g, err
		}
		g.act = append(g.act, a)
		if l > 0 {
			d, err := gpuAlloc[float32](g, rows*width)
			if err != nil {
				return g, err
			}
			g.delta = append(g.delta, d)
		}
	}
	if g.y, err = gpuAlloc[float32](g, rows*n.Outputs()); err != nil {
		return g, err
	}
	if g.stats, err = gpuAlloc[float32](g, cuda.StatsLen(rows)); err != nil {
		return g, err
	}
	// Sgemm's workspace, for the products with few tiles of C and a long
	// k, which it splits along k: the narrow layers' forward products and,
	// to train, the weight gradients (k is the batch). Sized for full
	// batches; a smaller batch needs no more, or splits less.
	dev, need := ctx.Device(), 0
	for l, L := range n.layers {
		need = max(need, cuda.SgemmWorkspace(dev, rows, L.Out, L.In+1))
		if train {
			need = max(need, cuda.SgemmWorkspace(dev, L.In+1, L.Out, rows))
			if l > 0 {
				need = max(need, cuda.SgemmWorkspace(dev, rows, L.In, L.Out))
			}
		}
	}
	if need > 0 {
		w, err := gpuAlloc[float32](g, need)
		if err != nil {
			return g, err
		}
		if err := g.s.SetWorkspace(w); err != nil {
			return g, err
		}
	}
	return g, nil
}

// free releases everything newGPUNet and later calls allocated, newest
// first, after the queued work is done.
func (g *gpuNet) free() {
	if g.s != nil {
		g.s.Sync()
	}
	for i := len(g.frees) - 1; i >= 0; i-- {
		g.frees[i]()
	}
	g.frees = nil
}

// download copies the parameters back into the network and the
// optimizer's state back into the optimizer.
func (g *gpuNet) download() error {
	if err := g.params.CopyToHost(g.n.params); err != nil {
		return err
	}
	if g.opt != nil {
		return g.opt.download()
	}
	return nil
}

// upload copies d to the device, with the indices of its samples in
// order if ordered. Byte inputs stay bytes (a quarter of the memory); the
// gather kernel converts them as the CPU does.
func (g *gpuNet) upload(d *Dataset, ordered bool) (*gpuData, error) {
	rows, in, out := d.Len(), d.Inputs, d.Outputs
	gd := &gpuData{rows: rows}
	var err error
	if d.X != nil {
		if gd.x, err = gpuAlloc[float32](g, rows*in); err != nil {
			return nil, err
		}
		err = gd.x.CopyFromHost(d.X[:rows*in])
	} else {
		if gd.xb, err = gpuAlloc[uint8](g, rows*in); err != nil {
			return nil, err
		}
		gd.div = d.XDivisor
		err = gd.xb.CopyFromHost(d.XBytes[:rows*in])
	}
	if err != nil {
		return nil, err
	}
	if gd.y, err = gpuAlloc[float32](g, rows*out); err != nil {
		return nil, err
	}
	if err = gd.y.CopyFromHost(d.Y[:rows*out]); err != nil || !ordered {
		return gd, err
	}
	order := make([]uint32, rows)
	for i := range order {
		order[i] = uint32(i)
	}
	if gd.order, err = gpuAlloc[uint32](g, rows); err != nil {
		return nil, err
	}
	return gd, gd.order.CopyFromHost(order)
}
