package mlp

import (
	"errors"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/cuda"
)

func TestCUDAActivationCodes(t *testing.T) {
	for _, a := range []Activation{Identity, Sigmoid, ReLU, Tanh, Softmax} {
		if gpuAct(a).String() != a.String() {
			t.Errorf("%v is %v on the GPU", a, gpuAct(a))
		}
	}
}

// customOpt is an Optimizer of another package's making.
type customOpt struct{ Optimizer }

func TestCUDATrainErrors(t *testing.T) {
	n, err := New(Architecture{Sizes: []int{4, 3, 2}, Activations: []Activation{Sigmoid, Sigmoid}, Loss: CrossEntropy}, 1)
	if err != nil {
		t.Fatal(err)
	}
	good := blobs(1, 10, 4, 2, 0.1)
	ctx := cuda.NewSimContext()
	for _, c := range []struct {
		train, test *Dataset
		cfg         TrainConfig
		want        string
	}{
		{blobs(1, 10, 5, 2, 0.1), nil, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "training set has 5 inputs"},
		{good, blobs(1, 10, 4, 3, 0.1), TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "test set has 4 inputs and 3 outputs"},
		{&Dataset{X: []float32{1, 2, 3}, Y: []float32{1, 0}, Inputs: 4, Outputs: 2}, nil, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "training set: mlp: dataset X holds 3 values"},
		{good, nil, TrainConfig{Epochs: -1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "TrainCUDA: -1 epochs"},
		{good, nil, TrainConfig{Epochs: 1, BatchSize: 0, Optimizer: NewSGD(0.1, 0)}, "TrainCUDA: batch size 0 < 1"},
		{good, nil, TrainConfig{Epochs: 1, BatchSize: 2}, "TrainCUDA: no optimizer"},
		{good.Slice(0, 0), nil, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "TrainCUDA: empty training set"},
		{good, nil, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: customOpt{NewSGD(0.1, 0)}}, "optimizer mlp.customOpt is not supported on the GPU"},
	} {
		err := n.TrainCUDA(ctx, c.train, c.test, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v", c.want, err)
		}
	}
	if _, used, _ := ctx.Budget(); used != 0 {
		t.Errorf("%d bytes left allocated", used)
	}
	if err := n.TrainCUDA(ctx, good.Slice(0, 0), nil, TrainConfig{BatchSize: 2, Optimizer: NewSGD(0.1, 0)}); err != nil {
		t.Errorf("no epochs on an empty set: %v", err)
	}
	if _, _, err := n.EvaluateCUDA(ctx, good, 0); err == nil || !strings.Contains(err.Error(), "EvaluateCUDA: batch size 0 < 1") {
		t.Errorf("EvaluateCUDA batch 0: %v", err)
	}
	if _, _, err := n.EvaluateCUDA(ctx, blobs(1, 10, 5, 2, 0.1), 2); err == nil || !strings.Contains(err.Error(), "evaluation set has 5 inputs") {
		t.Errorf("EvaluateCUDA of a set that does not fit: %v", err)
	}
	mustPanicWith(t, "mlp: TrainCUDA: nil cuda.Context", func() { n.TrainCUDA(nil, good, nil, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}) })
	mustPanicWith(t, "mlp: EvaluateCUDA: nil cuda.Context", func() { n.EvaluateCUDA(nil, good, 2) })
	other, _ := New(n.Architecture(), 2)
	opt := NewSGD(0.1, 0)
	if err := other.TrainCUDA(ctx, good, nil, TrainConfig{Epochs: 1, BatchSize: 5, Optimizer: opt}); err != nil {
		t.Fatal(err)
	}
	mustPanicWith(t, "mlp: sgd optimizer used with a second network", func() { n.TrainCUDA(ctx, good, nil, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: opt}) })
}

func mustPanicWith(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if r := recover(); r != want {
			t.Errorf("panic %v, want %q", r, want)
		}
	}()
	f()
}

// The tests below need a GPU and skip without one; CUDA_TEST_DEVICE
// selects the device (default 0). With CUDA_TEST_FAKE set they run on the
// fake driver (see gpu_fake_test.go), except those too large for its
// simulator.

var gpuCtx struct {
	once sync.Once
	ctx  *cuda.Context
	err  error
}

func testGPU(t testing.TB) *cuda.Context {
	t.Helper()
	gpuCtx.once.Do(func() {
		ordinal := 0
		if s := os.Getenv("CUDA_TEST_DEVICE"); s != "" {
			ordinal, _ = strconv.Atoi(s)
		}
		if fakeMode {
			gpuCtx.ctx, gpuCtx.err = openFake(ordinal)
		} else {
			gpuCtx.ctx, gpuCtx.err = cuda.Open(ordinal)
		}
	})
	switch err := gpuCtx.err; {
	case errors.Is(err, cuda.ErrNoDriver):
		t.Skipf("no CUDA driver: %v", err)
	case errors.Is(err, cuda.ErrNoDevice):
		t.Skipf("no CUDA device: %v", err)
	case err != nil:
		t.Fatal(err)
	}
	return gpuCtx.ctx
}

// gpuVsCPU trains the same network for one epoch on the CPU (on all its
// cores) and on the GPU and returns the two epochs' statistics and
// parameters.
func gpuVsCPU(t *testing.T, ctx *cuda.Context, arch Architecture, train, test *Dataset, cfg func() TrainConfig) (cpu, gpu EpochStats, pc, pg []float32) {
	t.Helper()
	for i := range 2 {
		n, err := New(arch, 1)
		if err != nil {
			t.Fatal(err)
		}
		c := cfg()
		var st EpochStats
		c.OnEpoch = func(s EpochStats) { st = s }
		if i == 0 {
			tl := gemm.NewTiler(runtime.NumCPU(), gemm.Auto)
			n.SetTilers(tl, nil)
			err = n.Train(train, test, c)
			tl.Close()
			cpu, pc = st, n.params
		} else {
			err = n.TrainCUDA(ctx, train, test, c)
			gpu, pg = st, n.params
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("CPU: loss %.4f acc %.4f test_acc %.4f, %.3f s", cpu.Loss, cpu.Accuracy, cpu.TestAccuracy, cpu.TrainTime.Seconds())
	t.Logf("GPU: loss %.4f acc %.4f test_acc %.4f, %.3f s", gpu.Loss, gpu.Accuracy, gpu.TestAccuracy, gpu.TrainTime.Seconds())
	return cpu, gpu, pc, pg
}

// TestGPUTrainMatchesCPU trains the training network of the original
// experiment (784-200-100-50-30-10, sigmoid, cce, RMSprop, batch 1500)
// for one epoch on 60000 samples of noisy clusters and requires the GPU's test accuracy
// within 0.5 points of the CPU's; with MLP_MNIST_DIR naming a folder of
// the four MNIST files it does the same on MNIST.
func TestGPUTrainMatchesCPU(t *testing.T) {
	skipFake(t)
	ctx := testGPU(t)
	arch := Architecture{Sizes: []int{784, 200, 100, 50, 30, 10}, Activations: []Activation{Sigmoid, Sigmoid, Sigmoid, Sigmoid, Sigmoid}, Loss: CrossEntropy}
	cfg := func() TrainConfig { return TrainConfig{Epochs: 1, BatchSize: 1500, Seed: 1, Optimizer: NewRMSprop()} }
	// 40 steps, as on MNIST: the CPU reaches about 50% test accuracy, in
	// the steep part of the learning curve.
	sets := map[string][2]*Dataset{"clusters": {blobs(11, 60000, 784, 10, 1), blobs(11, 10000, 784, 10, 1)}}
	if dir := os.Getenv("MLP_MNIST_DIR"); dir != "" {
		train, test, err := LoadMNIST(dir)
		if err != nil {
			t.Fatal(err)
		}
		sets["mnist"] = [2]*Dataset{train, test}
	}
	for name, d := range sets {
		t.Run(name, func(t *testing.T) {
			cpu, gpu, pc, pg := gpuVsCPU(t, ctx, arch, d[0], d[1], cfg)
			if math.Abs(cpu.TestAccuracy-gpu.TestAccuracy) > 0.005 {
				t.Errorf("test accuracy: GPU %.4f, CPU %.4f: more than 0.5 points apart", gpu.TestAccuracy, cpu.TestAccuracy)
			}
			if math.Abs(cpu.Loss-gpu.Loss) > 1e-3*cpu.Loss || math.Abs(cpu.Accuracy-gpu.Accuracy) > 0.005 {
				t.Errorf("training loss and accuracy: GPU %.5f %.4f, CPU %.5f %.4f", gpu.Loss, gpu.Accuracy, cpu.Loss, cpu.Accuracy)
			}
			d, i := maxDiff(pg, pc, 1e-3, 1e-2)
			t.Logf("largest parameter difference: %.3g of 1e-3 + 1e-2·|w| (params[%d] %v on the GPU, %v on the CPU)", d, i, pg[i], pc[i])
		})
	}
}

// TestGPUGraphs checks that replaying the captured step gives the same
// parameters, bit for bit, as separate launches, for every loss and
// optimizer, and that TrainCUDA frees what it allocates.
func TestGPUGraphs(t *testing.T) {
	ctx := testGPU(t)
	train, test := blobs(3, 3000, 64, 10, 0.5), blobs(3, 1000, 64, 10, 0.5)
	if fakeMode {
		train, test = blobs(3, 600, 64, 10, 0.5), blobs(3, 200, 64, 10, 0.5)
	}
	_, used0, _ := ctx.Budget()
	for _, c := range []struct {
		acts []Activation
		loss Loss
		opt  func() Optimizer
	}{
		{[]Activation{Sigmoid, Sigmoid}, CrossEntropy, func() Optimizer { return NewRMSprop() }},
		{[]Activation{ReLU, Softmax}, SoftmaxCrossEntropy, func() Optimizer { return NewAdam() }},
		{[]Activation{Tanh, Identity}, MSE, func() Optimizer { return NewSGD(0.05, 0.9) }},
	} {
		var params [2][]float32
		for i, graphs := range []bool{true, false} {
			n, err := New(Architecture{Sizes: []int{64, 48, 10}, Activations: c.acts, Loss: c.loss}, 2)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.trainCUDA(ctx, train, test, TrainConfig{Epochs: 2, BatchSize: 128, Seed: 4, Optimizer: c.opt()}, graphs); err != nil {
				t.Fatal(err)
			}
			params[i] = n.params
		}
		if !slices.Equal(params[0], params[1]) {
			d, i := maxDiff(params[0], params[1], 0, 1)
			t.Errorf("%v/%v: graphs and separate launches differ: params[%d] relative difference %g", c.acts, c.loss, i, d)
		}
	}
	if _, used, _ := ctx.Budget(); used != used0 {
		t.Errorf("%d bytes left allocated", used-used0)
	}
}

// BenchmarkGPUEpoch times one epoch of the training network at batch
// 1500 on 60000 samples, the MNIST shape.
func BenchmarkGPUEpoch(b *testing.B) {
	ctx := testGPU(b)
	benchEpoch(b, func(n *Network, train *Dataset, cfg TrainConfig) error {
		return n.TrainCUDA(ctx, train, nil, cfg)
	})
}

// BenchmarkCPUEpoch is BenchmarkGPUEpoch on the CPU backend with a worker
// for each CPU (Auto), the baseline of the GPU's target (10× faster on the
// same machine); it runs on every machine.
func BenchmarkCPUEpoch(b *testing.B) {
	w := runtime.NumCPU()
	b.Run("workers="+strconv.Itoa(w), func(b *testing.B) {
		t := gemm.NewTiler(w, gemm.Auto)
		defer t.Close()
		benchEpoch(b, func(n *Network, train *Dataset, cfg TrainConfig) error {
			n.SetTilers(t, nil)
			return n.Train(train, nil, cfg)
		})
	})
}

// epochNet returns the network and data of the epoch benchmarks: the
// MNIST experiment's 784-200-100-50-30-10 sigmoid network (seed 1) and
// 60000 synthetic samples (3000 with -short), trained at epochBatch
// samples a step. On the fake driver, whose simulator is slow, a network
// of the same depth 24-16-12-8-6-4 and 120 samples at batch 40.
func epochNet(b *testing.B) (*Network, *Dataset) {
	sizes := []int{784, 200, 100, 50, 30, 10}
	data := blobs(5, 60000, 784, 10, 1)
	switch {
	case fakeMode:
		sizes = []int{24, 16, 12, 8, 6, 4}
		data = blobs(5, 120, 24, 4, 1)
	case testing.Short():
		data = data.Slice(0, 3000)
	}
	arch := Architecture{Sizes: sizes, Activations: []Activation{Sigmoid, Sigmoid, Sigmoid, Sigmoid, Sigmoid}, Loss: CrossEntropy}
	n, err := New(arch, 1)
	if err != nil {
		b.Fatal(err)
	}
	return n, data
}

// epochBatch is the batch size of the epoch benchmarks.
func epochBatch() int {
	if fakeMode {
		return 40
	}
	return 1500
}

// benchEpoch trains epochNet's network with RMSprop at epochBatch for 3
// epochs, and reports the training time of the last two: seconds an
// epoch and samples a second.
func benchEpoch(b *testing.B, train func(*Network, *Dataset, TrainConfig) error) {
	n, data := epochNet(b)
	var t time.Duration
	cfg := TrainConfig{Epochs: 3, BatchSize: epochBatch(), Seed: 1, Optimizer: NewRMSprop(),
		OnEpoch: func(s EpochStats) {
			if s.Epoch > 1 {
				t += s.TrainTime
			}
		}}
	b.ResetTimer()
	for range b.N {
		if err := train(n, data, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(t.Seconds()/float64(2*b.N), "s/epoch")
	b.ReportMetric(float64(2*b.N*data.Len())/t.Seconds(), "samples/s")
}

// BenchmarkGPUStep breaks down a step of BenchmarkGPUEpoch's training at
// batch 1500: each phase's device time (events between its launches),
// then the whole step as separate launches and as one replay of the
// captured graph, in µs a step. Where an epoch's time goes, and what the
// graph saves.
func BenchmarkGPUStep(b *testing.B) {
	ctx := testGPU(b)
	n, data := epochNet(b)
	rows := epochBatch()
	g, err := newGPUNet(n, ctx, rows, true)
	if err != nil {
		b.Fatal(err)
	}
	defer g.free()
	if g.opt, err = newGPUOptimizer(g, NewRMSprop()); err != nil {
		b.Fatal(err)
	}
	d, err := g.upload(data, false)
	if err != nil {
		b.Fatal(err)
	}
	idx, err := gpuAlloc[uint32](g, rows)
	if err != nil {
		b.Fatal(err)
	}
	perm := make([]uint32, rows)
	for i := range perm {
		perm[i] = uint32((i * 7919) % data.Len())
	}
	if err := idx.CopyFromHost(perm); err != nil {
		b.Fatal(err)
	}
	events := make([]*cuda.Event, 6)
	for i := range events {
		if events[i], err = ctx.NewEvent(); err != nil {
			b.Fatal(err)
		}
		defer events[i].Destroy()
	}
	check := func(b *testing.B, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	elapsed := func(b *testing.B, i, j int) time.Duration {
		d, err := cuda.Elapsed(events[i], events[j])
		check(b, err)
		return d
	}
	phases := []struct {
		name string
		run  func() error
	}{
		{"gather", func() error { return g.gather(d, idx, rows) }},
		{"forward", func() error { return g.forward(rows) }},
		{"loss", func() error { return g.loss(rows, true) }},
		{"backward", func() error { return g.backward(rows) }},
		{"update", func() error { return g.opt.update(g.s, g.params, g.grads) }},
	}
	b.Run("phases", func(b *testing.B) {
		sums := make([]time.Duration, len(phases))
		for b.Loop() {
			check(b, events[0].Record(g.s))
			for i, p := range phases {
				check(b, p.run())
				check(b, events[i+1].Record(g.s))
			}
			check(b, events[len(phases)].Sync())
			for i := range phases {
				sums[i] += elapsed(b, i, i+1)
			}
		}
		for i, p := range phases {
			b.ReportMetric(sums[i].Seconds()*1e6/float64(b.N), p.name+"-µs")
		}
	})
	// timeSteps reports the device time of b.N steps queued back to back.
	timeSteps := func(b *testing.B, step func() error) {
		check(b, step()) // warm up
		check(b, events[0].Record(g.s))
		for b.Loop() {
			check(b, step())
		}
		check(b, events[1].Record(g.s))
		check(b, events[1].Sync())
		b.ReportMetric(elapsed(b, 0, 1).Seconds()*1e6/float64(b.N), "µs/step")
	}
	b.Run("launches", func(b *testing.B) {
		timeSteps(b, func() error { return g.step(d, idx, rows) })
	})
	b.Run("graph", func(b *testing.B) {
		graph, err := g.s.Capture(func() error { return g.step(d, idx, rows) })
		check(b, err)
		defer graph.Destroy()
		timeSteps(b, func() error { return graph.Launch(g.s) })
	})
}
