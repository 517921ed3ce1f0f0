package mlp

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gokernels/gemm"
)

// blobs returns a classification set: each class is a random centre in
// [0, 1]^in, each sample its class's centre plus Gaussian noise of standard
// deviation noise, and the targets one-hot.
func blobs(seed uint64, samples, in, classes int, noise float64) *Dataset {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([]float64, classes*in)
	for i := range centres {
		centres[i] = r.Float64()
	}
	r = rand.New(rand.NewPCG(seed, uint64(samples)))
	d := &Dataset{X: make([]float32, samples*in), Y: make([]float32, samples*classes), Inputs: in, Outputs: classes}
	for s := range samples {
		c := r.IntN(classes)
		d.Y[s*classes+c] = 1
		for j := range in {
			d.X[s*in+j] = float32(centres[c*in+j] + noise*r.NormFloat64())
		}
	}
	return d
}

// TestTrainLearns trains a small sigmoid network with Keras's
// cross-entropy and RMSprop, the recipe of the original experiment, on
// noisy clusters, and requires at least 95% test accuracy.
func TestTrainLearns(t *testing.T) {
	for _, c := range []struct {
		acts []Activation
		loss Loss
		opt  Optimizer
	}{
		{[]Activation{Sigmoid, Sigmoid, Sigmoid}, CrossEntropy, &RMSprop{LR: 0.01, Rho: 0.9, Epsilon: 1e-7}},
		{[]Activation{ReLU, Tanh, Softmax}, SoftmaxCrossEntropy, &Adam{LR: 0.01, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7}},
		{[]Activation{Tanh, Sigmoid, Sigmoid}, MSE, NewSGD(0.5, 0.9)},
	} {
		t.Run(fmt.Sprintf("%v/%v/%s", c.acts, c.loss, c.opt.Name()), func(t *testing.T) {
			train := blobs(1, 2000, 32, 8, 0.4)
			test := blobs(1, 1000, 32, 8, 0.4)
			n, err := New(Architecture{Sizes: []int{32, 24, 16, 8}, Activations: c.acts, Loss: c.loss}, 5)
			if err != nil {
				t.Fatal(err)
			}
			tl := gemm.NewTiler(2, gemm.Auto)
			defer tl.Close()
			n.SetTilers(tl, nil)
			var stats []EpochStats
			batches := 0
			err = n.Train(train, test, TrainConfig{
				Epochs: 15, BatchSize: 64, Seed: 3, Optimizer: c.opt,
				OnEpoch: func(s EpochStats) { stats = append(stats, s) },
				OnBatch: func(done, total int) {
					batches++
					if total != 2000 || done > total {
						t.Fatalf("OnBatch(%d, %d)", done, total)
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(stats) != 15 || batches != 15*32 { // 31 full batches and one of 16
				t.Fatalf("%d epochs reported, %d batches", len(stats), batches)
			}
			first, last := stats[0], stats[len(stats)-1]
			t.Logf("epoch 1: loss %.4f acc %.4f test %.4f; epoch %d: loss %.4f acc %.4f test %.4f",
				first.Loss, first.Accuracy, first.TestAccuracy, last.Epoch, last.Loss, last.Accuracy, last.TestAccuracy)
			if last.Loss >= first.Loss {
				t.Errorf("loss did not fall: %.4f → %.4f", first.Loss, last.Loss)
			}
			if last.TestAccuracy < 0.95 {
				t.Errorf("test accuracy %.4f < 0.95", last.TestAccuracy)
			}
			loss, acc, err := n.Evaluate(test, 128)
			if err != nil || acc != last.TestAccuracy || loss-last.TestLoss > 1e-9 || last.TestLoss-loss > 1e-9 {
				t.Errorf("Evaluate = %v, %v, %v; the last epoch reported %v, %v", loss, acc, err, last.TestLoss, last.TestAccuracy)
			}
		})
	}
}

// trainedParams trains a fresh network and returns its parameters.
func trainedParams(t *testing.T, workers int, s gemm.Strategy, minPar int) []float32 {
	t.Helper()
	train := blobs(2, 700, 20, 5, 0.8)
	n, err := New(Architecture{Sizes: []int{20, 64, 32, 5}, Activations: []Activation{Sigmoid, ReLU, Sigmoid}, Loss: CrossEntropy}, 9)
	if err != nil {
		t.Fatal(err)
	}
	tl := gemm.NewTiler(workers, s)
	defer tl.Close()
	n.SetTilers(tl, nil)
	n.minPar = minPar
	if err := n.Train(train, nil, TrainConfig{Epochs: 3, BatchSize: 100, Seed: 4, Optimizer: NewRMSprop()}); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(n.Params())
}

func TestTrainDeterministic(t *testing.T) {
	for _, s := range []gemm.Strategy{gemm.Auto, gemm.SplitK} {
		for _, w := range []int{1, 2, 3} {
			a := trainedParams(t, w, s, 0)
			b := trainedParams(t, w, s, 0)
			if !sameBits(a, b) {
				t.Errorf("%v, %d workers: two runs differ", s, w)
			}
		}
	}
	// Rows, Cols and Grid give the same result for every worker count, and
	// whether or not the element-wise passes are shared.
	for _, s := range []gemm.Strategy{gemm.Rows, gemm.Cols, gemm.Grid} {
		ref := trainedParams(t, 1, s, minParallel)
		for _, w := range []int{2, 3} {
			if got := trainedParams(t, w, s, 0); !sameBits(ref, got) {
				t.Errorf("%v: %d workers differ from 1", s, w)
			}
		}
	}
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

// TestStepAllocs checks that training steps and evaluation allocate
// nothing once the buffers exist.
func TestStepAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	arch := Architecture{Sizes: []int{784, 200, 100, 50, 30, 10}, Activations: []Activation{Sigmoid, Sigmoid, Sigmoid, Sigmoid, Sigmoid}, Loss: CrossEntropy}
	data := blobs(3, 300, 784, 10, 0.5)
	for _, s := range []gemm.Strategy{gemm.Auto, gemm.SplitK, gemm.Grid} {
		for _, w := range []int{1, 2} {
			n, err := New(arch, 1)
			if err != nil {
				t.Fatal(err)
			}
			tl := gemm.NewTiler(w, s)
			n.SetTilers(tl, tl.WithStrategy(gemm.SplitK))
			opt := NewRMSprop()
			step := func() { n.TrainBatch(data.X, data.Y, 256, opt) }
			step()
			if a := testing.AllocsPerRun(5, step); a != 0 {
				t.Errorf("%v, %d workers: %v allocations per step", s, w, a)
			}
			eval := func() { n.Evaluate(data, 256) }
			eval()
			if a := testing.AllocsPerRun(5, eval); a != 0 {
				t.Errorf("%v, %d workers: %v allocations per evaluation", s, w, a)
			}
			tl.Close()
		}
	}
}

func TestTrainErrors(t *testing.T) {
	n, _ := New(Architecture{Sizes: []int{4, 3}, Activations: []Activation{Softmax}, Loss: SoftmaxCrossEntropy}, 1)
	tl := gemm.NewTiler(1, gemm.Auto)
	defer tl.Close()
	n.SetTilers(tl, nil)
	good := blobs(1, 10, 4, 3, 0.1)
	for _, c := range []struct {
		train, test *Dataset
		cfg         TrainConfig
		want        string
	}{
		{blobs(1, 10, 5, 3, 0.1), nil, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "training set has 5 inputs"},
		{good, blobs(1, 10, 4, 2, 0.1), TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "test set has 4 inputs and 2 outputs"},
		{&Dataset{X: make([]float32, 7), Y: make([]float32, 6), Inputs: 4, Outputs: 3}, nil, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "not a multiple"},
		{&Dataset{X: make([]float32, 8), XBytes: make([]byte, 8), Y: make([]float32, 6), Inputs: 4, Outputs: 3}, nil, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "both X and XBytes"},
		{&Dataset{XBytes: make([]byte, 8), Y: make([]float32, 6), Inputs: 4, Outputs: 3}, nil, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "XDivisor = 0"},
		{&Dataset{XBytes: make([]byte, 7), XDivisor: 255, Y: make([]float32, 6), Inputs: 4, Outputs: 3}, nil, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "holds 7 values, not a multiple"},
		{good, nil, TrainConfig{Epochs: 1, BatchSize: 0, Optimizer: NewSGD(0.1, 0)}, "batch size 0"},
		{good, nil, TrainConfig{Epochs: -1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)}, "-1 epochs"},
		{good, nil, TrainConfig{Epochs: 1, BatchSize: 2}, "no optimizer"},
	} {
		err := n.Train(c.train, c.test, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Train: error %v, want one containing %q", err, c.want)
		}
	}
}

// TestByteInputs checks that a Dataset holding its inputs as bytes trains
// and evaluates exactly like the same data held as float32 values b/255,
// sliced or whole.
func TestByteInputs(t *testing.T) {
	const samples, in, classes = 230, 37, 4
	f := blobs(4, samples, in, classes, 0.3)
	b := &Dataset{XBytes: make([]byte, samples*in), XDivisor: 255, Y: f.Y, Inputs: in, Outputs: classes}
	for i, v := range f.X {
		q := byte(min(max(v, 0), 1) * 255)
		b.XBytes[i] = q
		f.X[i] = float32(q) / 255
	}
	if b.Len() != samples {
		t.Fatalf("Len() = %d, want %d", b.Len(), samples)
	}
	arch := Architecture{Sizes: []int{in, 16, classes}, Activations: []Activation{Sigmoid, Softmax}, Loss: SoftmaxCrossEntropy}
	run := func(train, test *Dataset) ([]float32, float64) {
		n, err := New(arch, 3)
		if err != nil {
			t.Fatal(err)
		}
		tl := gemm.NewTiler(2, gemm.Auto)
		defer tl.Close()
		n.SetTilers(tl, nil)
		var acc float64
		cfg := TrainConfig{Epochs: 3, BatchSize: 64, Seed: 5, Optimizer: NewRMSprop(), OnEpoch: func(s EpochStats) { acc = s.TestAccuracy }}
		if err := n.Train(train, test, cfg); err != nil {
			t.Fatal(err)
		}
		return slices.Clone(n.Params()), acc
	}
	pf, af := run(f.Slice(0, 200), f.Slice(200, samples))
	pb, ab := run(b.Slice(0, 200), b.Slice(200, samples))
	if !sameBits(pf, pb) || af != ab {
		t.Errorf("byte inputs train differently from float inputs (test accuracy %v vs %v)", ab, af)
	}
}
