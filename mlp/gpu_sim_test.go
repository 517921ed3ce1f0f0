package mlp

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/cuda"
)

// The tests of this file run TrainCUDA's launches, as they are, in the PTX
// simulator (cuda.NewSimContext) on tiny networks, and compare them with
// the CPU's Train: the GPU backend's layout, leading dimensions, launch
// order, statistics, optimizer state and graph capture are checked without
// a GPU. Only the driver calls are left out.

// simCase is a tiny network and its training configuration.
type simCase struct {
	sizes []int
	acts  []Activation
	loss  Loss
	opt   func() Optimizer
	bytes bool // inputs as XBytes
	batch int  // samples a batch, 4 if 0; the training set has 2.5 batches
}

func (c simCase) batchSize() int {
	if c.batch == 0 {
		return 4
	}
	return c.batch
}

func (c simCase) String() string {
	s := fmt.Sprintf("%v/%v/%v/%s", c.sizes, c.acts, c.loss, c.opt().Name())
	if c.bytes {
		s += "/bytes"
	}
	return s
}

func simCases() []simCase {
	return []simCase{
		// The original experiment's recipe.
		{[]int{7, 5, 3}, []Activation{Sigmoid, Sigmoid}, CrossEntropy, func() Optimizer { return NewRMSprop() }, false, 0},
		{[]int{7, 6, 5, 3}, []Activation{ReLU, Tanh, Softmax}, SoftmaxCrossEntropy, func() Optimizer { return NewAdam() }, false, 0},
		{[]int{7, 6, 4}, []Activation{Tanh, Sigmoid}, MSE, func() Optimizer { return NewSGD(0.1, 0.9) }, true, 0},
		{[]int{7, 6, 5, 3}, []Activation{Softmax, Sigmoid, Identity}, MSE, func() Optimizer { return NewSGD(0.05, 0) }, false, 0},
		{[]int{7, 5, 3}, []Activation{Identity, Softmax}, CrossEntropy, func() Optimizer { return NewAdam() }, true, 0},
	}
}

// newNet returns a new network of case c (seed 3) whose CPU work runs on
// one worker (Rows), as the CPU side of every comparison does.
func (c simCase) newNet(t *testing.T) *Network {
	t.Helper()
	n, err := New(Architecture{Sizes: c.sizes, Activations: c.acts, Loss: c.loss}, 3)
	if err != nil {
		t.Fatal(err)
	}
	tl := gemm.NewTiler(1, gemm.Rows)
	t.Cleanup(func() { tl.Close() })
	n.SetTilers(tl, nil)
	return n
}

// simData returns 2.5 batches of training samples and 1.5 of test
// samples for the network: 10 and 6, steps of 4, 4 and 2 samples, at
// batch size 4.
func simData(c simCase) (train, test *Dataset) {
	in, out, b := c.sizes[0], c.sizes[len(c.sizes)-1], c.batchSize()
	train, test = blobs(7, 5*b/2, in, out, 0.3), blobs(7, 3*b/2, in, out, 0.3)
	if c.bytes {
		for _, d := range []*Dataset{train, test} {
			d.XBytes = make([]byte, len(d.X))
			for i, v := range d.X {
				d.XBytes[i] = byte(min(max(v*200, 0), 255))
			}
			d.X, d.XDivisor = nil, 200
		}
	}
	return train, test
}

// trainRun is the outcome of a training run.
type trainRun struct {
	params  []float32
	state   [][]float32
	stats   []EpochStats
	batches [][2]int
}

func optState(o Optimizer) [][]float32 {
	switch h := o.(type) {
	case *SGD:
		return [][]float32{h.velocity}
	case *RMSprop:
		return [][]float32{h.ms}
	case *Adam:
		return [][]float32{h.m, h.v, {float32(h.t)}}
	}
	return nil
}

// runTrain trains a new network of case c for epochs epochs at its batch
// size, on the CPU when ctx is nil and with trainCUDA otherwise. change, if
// not nil, is called after each batch.
func runTrain(t *testing.T, c simCase, ctx *cuda.Context, graphs bool, epochs int, change func(Optimizer)) trainRun {
	t.Helper()
	n := c.newNet(t)
	train, test := simData(c)
	opt := c.opt()
	var r trainRun
	cfg := TrainConfig{Epochs: epochs, BatchSize: c.batchSize(), Seed: 5, Optimizer: opt,
		OnEpoch: func(s EpochStats) { r.stats = append(r.stats, s) },
		OnBatch: func(done, total int) {
			r.batches = append(r.batches, [2]int{done, total})
			if change != nil {
				change(opt)
			}
		},
	}
	var err error
	if ctx == nil {
		err = n.Train(train, test, cfg)
	} else {
		err = n.trainCUDA(ctx, train, test, cfg, graphs)
	}
	if err != nil {
		t.Fatal(err)
	}
	r.params, r.state = slices.Clone(n.params), optState(opt)
	return r
}

// maxDiff returns the largest |a−b|/(atol + rtol·|b|).
func maxDiff(a, b []float32, atol, rtol float64) (worst float64, at int) {
	for i := range b {
		d := math.Abs(float64(a[i])-float64(b[i])) / (atol + rtol*math.Abs(float64(b[i])))
		if d > worst || d != d {
			worst, at = d, i
		}
	}
	return worst, at
}

func compareRuns(t *testing.T, got, want trainRun, atol, rtol float64) {
	t.Helper()
	if d, i := maxDiff(got.params, want.params, atol, rtol); d > 1 {
		t.Errorf("params[%d] = %v, CPU %v (%.3g of the tolerance)", i, got.params[i], want.params[i], d)
	}
	for k := range want.state {
		if d, i := maxDiff(got.state[k], want.state[k], atol, rtol); d > 1 {
			t.Errorf("optimizer state %d [%d] = %v, CPU %v (%.3g of the tolerance)", k, i, got.state[k][i], want.state[k][i], d)
		}
	}
	if !slices.Equal(got.batches, want.batches) {
		t.Errorf("OnBatch calls %v, CPU %v", got.batches, want.batches)
	}
	if len(got.stats) != len(want.stats) {
		t.Fatalf("%d epochs reported, CPU %d", len(got.stats), len(want.stats))
	}
	for e, w := range want.stats {
		g := got.stats[e]
		if g.Epoch != w.Epoch || g.Epochs != w.Epochs || g.Samples != w.Samples || g.Accuracy != w.Accuracy || g.TestAccuracy != w.TestAccuracy ||
			math.Abs(g.Loss-w.Loss) > 1e-5*(1+w.Loss) || math.Abs(g.TestLoss-w.TestLoss) > 1e-5*(1+w.TestLoss) {
			t.Errorf("epoch %d: %+v\nCPU      %+v", e+1, g, w)
		}
	}
}

// TestCUDASimMatchesCPU trains two epochs of three steps (4, 4 and 2
// samples) on the CPU and on the simulated device, with graphs, and
// compares; then without graphs, which must give the same bits (with
// -short for the first case only).
func TestCUDASimMatchesCPU(t *testing.T) {
	for i, c := range simCases() {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			cpu := runTrain(t, c, nil, false, 2, nil)
			sim := runTrain(t, c, cuda.NewSimContext(), true, 2, nil)
			compareRuns(t, sim, cpu, 1e-6, 1e-4)
			if testing.Short() && i > 0 {
				return
			}
			direct := runTrain(t, c, cuda.NewSimContext(), false, 2, nil)
			if !slices.Equal(direct.params, sim.params) {
				d, i := maxDiff(direct.params, sim.params, 0, 1)
				t.Errorf("replayed graphs and separate launches differ: params[%d] relative difference %g", i, d)
			}
		})
	}
}

// TestCUDASimSplit trains with batches of 160 samples: on the simulated
// device's 8 SMs, Sgemm splits the weight gradients (k = 160) along k
// through the workspace newGPUNet sets on its stream.
func TestCUDASimSplit(t *testing.T) {
	c := simCases()[1]
	c.batch = 160
	n := c.newNet(t)
	g, err := newGPUNet(n, cuda.NewSimContext(), c.batch, true)
	if err != nil {
		t.Fatal(err)
	}
	w := g.s.Workspace()
	g.free()
	if w == nil {
		t.Fatal("no workspace for batches of 160 on 8 SMs")
	}
	cpu := runTrain(t, c, nil, false, 1, nil)
	sim := runTrain(t, c, cuda.NewSimContext(), true, 1, nil)
	compareRuns(t, sim, cpu, 1e-6, 1e-4)
}

// TestCUDASimHyperChange changes the learning rate after every batch: the
// captured step must be captured again to follow, as the CPU does.
func TestCUDASimHyperChange(t *testing.T) {
	c := simCases()[0]
	halve := func(o Optimizer) { o.(*RMSprop).LR *= 0.5 }
	cpu := runTrain(t, c, nil, false, 2, halve)
	sim := runTrain(t, c, cuda.NewSimContext(), true, 2, halve)
	compareRuns(t, sim, cpu, 1e-6, 1e-4)
}

// TestCUDASimContinues trains one epoch on the CPU and one on the device
// with the same optimizer, which carries its state (Adam's step count
// included) across, and compares with two epochs on the CPU.
func TestCUDASimContinues(t *testing.T) {
	c := simCases()[1]
	train, test := simData(c)
	var params [2][]float32
	var states [2][][]float32
	for i, onDevice := range []bool{false, true} {
		n := c.newNet(t)
		opt := c.opt()
		cfg := TrainConfig{Epochs: 1, BatchSize: 4, Seed: 5, Optimizer: opt}
		if err := n.Train(train, test, cfg); err != nil {
			t.Fatal(err)
		}
		var err error
		if onDevice {
			err = n.TrainCUDA(cuda.NewSimContext(), train, test, cfg)
		} else {
			err = n.Train(train, test, cfg)
		}
		if err != nil {
			t.Fatal(err)
		}
		params[i], states[i] = n.params, optState(opt)
	}
	compareRuns(t, trainRun{params: params[1], state: states[1]}, trainRun{params: params[0], state: states[0]}, 1e-6, 1e-4)
	if states[1][2][0] != 6 {
		t.Errorf("Adam's step count %v after 6 steps", states[1][2][0])
	}
}

func TestCUDASimEvaluate(t *testing.T) {
	for _, c := range simCases()[:3] {
		n := c.newNet(t)
		_, test := simData(c)
		for _, batch := range []int{4, 100} {
			loss, acc, err := n.Evaluate(test, batch)
			if err != nil {
				t.Fatal(err)
			}
			gl, ga, err := n.EvaluateCUDA(cuda.NewSimContext(), test, batch)
			if err != nil {
				t.Fatal(err)
			}
			if ga != acc || math.Abs(gl-loss) > 1e-5*(1+loss) {
				t.Errorf("%v, batch %d: EvaluateCUDA = %v, %v; Evaluate %v, %v", c, batch, gl, ga, loss, acc)
			}
		}
		if l, a, err := n.EvaluateCUDA(cuda.NewSimContext(), test.Slice(0, 0), 4); l != 0 || a != 0 || err != nil {
			t.Errorf("empty set: %v, %v, %v", l, a, err)
		}
	}
}

// TestCUDASimOutOfMemory runs out of the budget at every allocation in
// turn: TrainCUDA must return ErrOutOfMemory, free all it allocated and
// leave the network as it was.
func TestCUDASimOutOfMemory(t *testing.T) {
	c := simCases()[0]
	train, test := simData(c)
	n := c.newNet(t)
	before := slices.Clone(n.params)
	ctx := cuda.NewSimContext()
	if err := n.TrainCUDA(ctx, train, test, TrainConfig{Epochs: 1, BatchSize: 4, Optimizer: NewSGD(0.1, 0)}); err != nil {
		t.Fatal(err)
	}
	_, used, peak := ctx.Budget()
	if used != 0 {
		t.Errorf("%d bytes still allocated after training", used)
	}
	for limit := int64(4); limit < peak; limit += 4 {
		ctx := cuda.NewSimContext()
		ctx.SetBudget(limit)
		copy(n.params, before)
		err := n.TrainCUDA(ctx, train, test, TrainConfig{Epochs: 1, BatchSize: 4, Optimizer: NewSGD(0.1, 0)})
		if !errors.Is(err, cuda.ErrOutOfMemory) {
			t.Fatalf("budget %d of %d bytes: %v", limit, peak, err)
		}
		if _, used, _ := ctx.Budget(); used != 0 {
			t.Fatalf("budget %d: %d bytes still allocated after the error", limit, used)
		}
		if !slices.Equal(n.params, before) {
			t.Fatalf("budget %d: the network changed", limit)
		}
	}
}
