package mlp

import (
	"errors"
	"fmt"
	"time"

	"github.com/gokernels/gemm/cuda"
)

// TrainCUDA trains the network as Train does, on the GPU of ctx: the same
// shuffling and so the same batches, the same steps, statistics and
// callbacks, computed by the kernels of package cuda on the same layout.
// Results differ from Train's by rounding only (sums run in another order
// on the device, and its exponentials are approximations).
//
// The training and test sets are uploaded once (byte inputs as bytes,
// converted as each batch is gathered, to the bits the CPU gives), and
// the parameters, gradients, activations and optimizer state stay on the
// device. A step uploads nothing and does not wait for the device: the
// step of a full batch is captured once as a CUDA graph, and each full
// batch is then a device-to-device copy of its sample indices and one
// replay. Each epoch uploads its permutation once and waits for the
// device once; the loss and accuracy are summed on the device (in
// float32, a sum per block of 8 samples, added up in float64 on the host)
// and read then, the test set is evaluated on the device, and the
// parameters and the optimizer's state are copied back into the network
// and cfg.Optimizer before cfg.OnEpoch is called, so that the network can
// be saved or used on the CPU there and after the call. cfg.OnBatch is
// called as each step is queued, before the device has run it.
//
// The network needs no Tiler. cfg.Optimizer must be a *SGD, *RMSprop or
// *Adam; changes to its fields in the callbacks apply from the next step.
// Changes to the network's parameters during the call are overwritten.
//
// TrainCUDA returns Train's errors for data or configurations that do not
// fit, and the driver's errors (such as ErrOutOfMemory from the device or
// from ctx's budget); the network and the optimizer then hold the state
// of the last completed epoch. It frees all the device memory it allocated
// before returning. It panics if ctx is nil.
func (n *Network) TrainCUDA(ctx *cuda.Context, train, test *Dataset, cfg TrainConfig) error {
	return n.trainCUDA(ctx, train, test, cfg, true)
}

// EvaluateCUDA returns the mean loss and the accuracy of the network on d
// as Evaluate does, computed on the GPU of ctx in batches of batchSize
// samples. It returns Evaluate's errors, and the driver's. It panics if
// ctx is nil.
func (n *Network) EvaluateCUDA(ctx *cuda.Context, d *Dataset, batchSize int) (loss, accuracy float64, err error) {
	if ctx == nil {
		panic("mlp: EvaluateCUDA: nil cuda.Context")
	}
	if err := d.checkFor(n, "evaluation set"); err != nil {
		return 0, 0, err
	}
	if batchSize < 1 {
		return 0, 0, fmt.Errorf("mlp: EvaluateCUDA: batch size %d < 1", batchSize)
	}
	if d.Len() == 0 {
		return 0, 0, nil
	}
	g, err := newGPUNet(n, ctx, min(batchSize, d.Len()), false)
	if err != nil {
		return 0, 0, err
	}
	defer g.free()
	gd, err := g.upload(d, true)
	if err != nil {
		return 0, 0, err
	}
	return g.evaluate(gd)
}

// gpuTrainer runs the epochs of TrainCUDA.
type gpuTrainer struct {
	*gpuNet
	cfg         TrainConfig
	train, test *gpuData             // test is nil without a test set
	perm        *cuda.Buffer[uint32] // the epoch's order of the training samples
	idx         *cuda.Buffer[uint32] // the sample indices of a full batch, read by the graph
	batch       int                  // rows of a full batch
	graphs      bool                 // capture full batches as a graph
	graph       *cuda.Graph          // a full batch, or nil
	key         [4]uint32            // the optimizer's hyper-parameters in graph
}

// trainCUDA is TrainCUDA, with graphs false running every step as
// separate launches.
func (n *Network) trainCUDA(ctx *cuda.Context, train, test *Dataset, cfg TrainConfig, graphs bool) (err error) {
	if ctx == nil {
		panic("mlp: TrainCUDA: nil cuda.Context")
	}
	if err := n.checkTrain("TrainCUDA", train, test, cfg); err != nil {
		return err
	}
	if cfg.Epochs == 0 {
		return nil
	}
	total := train.Len()
	if test != nil && test.Len() == 0 {
		test = nil
	}
	t := &gpuTrainer{cfg: cfg, batch: min(cfg.BatchSize, total), graphs: graphs}
	rows := t.batch
	if test != nil {
		rows = max(rows, min(cfg.BatchSize, test.Len()))
	}
	if t.gpuNet, err = newGPUNet(n, ctx, rows, true); err != nil {
		return err
	}
	defer t.free()
	if t.opt, err = newGPUOptimizer(t.gpuNet, cfg.Optimizer); err != nil {
		return err
	}
	if t.train, err = t.upload(train, false); err != nil {
		return err
	}
	if test != nil {
		if t.test, err = t.upload(test, true); err != nil {
			return err
		}
	}
	if t.perm, err = gpuAlloc[uint32](t.gpuNet, total); err != nil {
		return err
	}
	if t.idx, err = gpuAlloc[uint32](t.gpuNet, t.batch); err != nil {
		return err
	}
	defer func() {
		if t.graph != nil {
			t.graph.Destroy()
		}
	}()
	return t.run(total)
}

// run trains for cfg.Epochs epochs on total samples.
func (t *gpuTrainer) run(total int) error {
	cfg := t.cfg
	perm := make([]int, total)
	for i := range perm {
		perm[i] = i
	}
	perm32 := make([]uint32, total)
	r := newRNG(cfg.Seed, streamShuffle)
	shuffle := func() {
		r.shuffle(perm)
		for i, p := range perm {
			perm32[i] = uint32(p)
		}
	}
	t0 := time.Now()
	shuffle()
	for e := 1; e <= cfg.Epochs; e++ {
		st := EpochStats{Epoch: e, Epochs: cfg.Epochs, Samples: total}
		if e > 1 {
			t0 = time.Now()
		}
		// Waits for the work queued before, the previous evaluation.
		if err := t.perm.CopyFromHost(perm32); err != nil {
			return err
		}
		if err := t.stats.Fill(t.s, 0); err != nil {
			return err
		}
		for b0 := 0; b0 < total; b0 += cfg.BatchSize {
			rows := min(cfg.BatchSize, total-b0)
			if err := t.trainStep(b0, rows); err != nil {
				return err
			}
			if cfg.OnBatch != nil {
				st.TrainTime += time.Since(t0)
				cfg.OnBatch(b0+rows, total)
				t0 = time.Now()
			}
		}
		if e < cfg.Epochs {
			// The next epoch's order, while the device works through this
			// one (perm32 was copied when CopyFromHost returned).
			shuffle()
		}
		if err := t.s.Sync(); err != nil {
			return err
		}
		st.TrainTime += time.Since(t0)
		loss, hits, err := t.sums()
		if err != nil {
			return err
		}
		st.Loss = loss / float64(total)
		st.Accuracy = hits / float64(total)
		if err := t.download(); err != nil {
			return err
		}
		if t.test != nil {
			var err error
			if st.TestLoss, st.TestAccuracy, err = t.evaluate(t.test); err != nil {
				return err
			}
		}
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(st)
		}
	}
	return nil
}

// trainStep queues the step of the rows samples at b0 of the epoch's
// order: a full batch as a copy of its indices and a replay of the
// captured step, captured again when the optimizer's hyper-parameters
// change; a smaller last batch (or every batch without graphs) as
// separate launches reading the indices in place.
func (t *gpuTrainer) trainStep(b0, rows int) error {
	idx := t.perm.Slice(b0, b0+rows)
	if !t.graphs || rows != t.batch {
		return t.step(t.train, idx, rows)
	}
	if t.graph == nil || t.key != t.opt.hyper() {
		if t.graph != nil {
			t.graph.Destroy()
			t.graph = nil
		}
		key, steps := t.opt.hyper(), t.opt.steps
		g, err := t.s.Capture(func() error { return t.step(t.train, t.idx, rows) })
		t.opt.steps = steps // recording queued no update
		var e *cuda.Error
		if errors.As(err, &e) && e.Code == cuda.ErrorNotSupported {
			// A driver without graphs (before CUDA 11.4).
			t.graphs = false
			return t.step(t.train, idx, rows)
		}
		if err != nil {
			return err
		}
		t.graph, t.key = g, key
	}
	if err := t.idx.CopyFrom(t.s, idx); err != nil {
		return err
	}
	t.opt.steps++
	return t.graph.Launch(t.s)
}
