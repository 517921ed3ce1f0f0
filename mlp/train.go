package mlp

import (
	"fmt"
	"time"
)

// TrainConfig says how Network.Train trains.
type TrainConfig struct {
	// Epochs is the number of passes over the training set (0 trains
	// nothing and only evaluates).
	Epochs int
	// BatchSize is the number of samples per step; the last batch of an
	// epoch holds the remainder.
	BatchSize int
	// Seed seeds the shuffling of the training set before each epoch.
	Seed uint64
	// Optimizer updates the parameters after each batch.
	Optimizer Optimizer
	// OnEpoch, if not nil, is called after each epoch with its results.
	OnEpoch func(EpochStats)
	// OnBatch, if not nil, is called after each batch with the number of
	// samples of the epoch done so far and the epoch's total, for
	// progress displays. Its time is not counted as training time.
	OnBatch func(done, total int)
}

// EpochStats are the results of one epoch.
type EpochStats struct {
	// Epoch counts from 1 to Epochs.
	Epoch, Epochs int
	// Loss and Accuracy are the means over the epoch's training batches,
	// each measured before that batch's update (as Keras reports them).
	Loss, Accuracy float64
	// TestLoss and TestAccuracy are measured on the test set after the
	// epoch; they are zero without a test set.
	TestLoss, TestAccuracy float64
	// Samples is the number of training samples in the epoch.
	Samples int
	// TrainTime is the time spent training, without evaluation or
	// callbacks.
	TrainTime time.Duration
}

// SamplesPerSecond returns the training throughput of the epoch.
func (s EpochStats) SamplesPerSecond() float64 {
	if s.TrainTime <= 0 {
		return 0
	}
	return float64(s.Samples) / s.TrainTime.Seconds()
}

// Train trains the network on train for cfg.Epochs epochs. Before each
// epoch it shuffles the samples with a generator seeded by cfg.Seed, then
// runs one step per batch of cfg.BatchSize samples, the last batch holding
// the remainder. After each epoch it evaluates the network on test, if
// test is not nil, and calls cfg.OnEpoch. It returns an error if the data
// or the configuration does not fit the network.
//
// The result is deterministic for a given network, data, configuration,
// worker count and strategy.
func (n *Network) Train(train, test *Dataset, cfg TrainConfig) error {
	n.mustHaveTiler("Train")
	if err := n.checkTrain("Train", train, test, cfg); err != nil {
		return err
	}
	total := train.Len()
	perm := make([]int, total)
	for i := range perm {
		perm[i] = i
	}
	r := newRNG(cfg.Seed, streamShuffle)
	n.reserve(min(cfg.BatchSize, total))
	for e := 1; e <= cfg.Epochs; e++ {
		st := EpochStats{Epoch: e, Epochs: cfg.Epochs, Samples: total}
		var loss float64
		var hits int
		t0 := time.Now()
		r.shuffle(perm)
		for b0 := 0; b0 < total; b0 += cfg.BatchSize {
			rows := min(cfg.BatchSize, total-b0)
			n.load(train, perm[b0:b0+rows], 0, rows)
			l, h := n.step(rows, cfg.Optimizer)
			loss += l
			hits += h
			if cfg.OnBatch != nil {
				st.TrainTime += time.Since(t0)
				cfg.OnBatch(b0+rows, total)
				t0 = time.Now()
			}
		}
		st.TrainTime += time.Since(t0)
		st.Loss = loss / float64(total)
		st.Accuracy = float64(hits) / float64(total)
		if test != nil && test.Len() > 0 {
			st.TestLoss, st.TestAccuracy = n.evaluate(test, cfg.BatchSize)
		}
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(st)
		}
	}
	return nil
}

// Evaluate returns the mean loss and the accuracy of the network on d,
// running it in batches of batchSize samples. It returns an error if d does
// not fit the network or batchSize < 1; an empty d gives zeros.
func (n *Network) Evaluate(d *Dataset, batchSize int) (loss, accuracy float64, err error) {
	n.mustHaveTiler("Evaluate")
	if err := d.checkFor(n, "evaluation set"); err != nil {
		return 0, 0, err
	}
	if batchSize < 1 {
		return 0, 0, fmt.Errorf("mlp: Evaluate: batch size %d < 1", batchSize)
	}
	loss, accuracy = n.evaluate(d, batchSize)
	return loss, accuracy, nil
}

func (n *Network) evaluate(d *Dataset, batchSize int) (loss, accuracy float64) {
	total := d.Len()
	if total == 0 {
		return 0, 0
	}
	var sum float64
	var hits int
	for b0 := 0; b0 < total; b0 += batchSize {
		rows := min(batchSize, total-b0)
		n.load(d, nil, b0, rows)
		n.forward(rows)
		l, h := n.lossPass(rows, false)
		sum += l
		hits += h
	}
	return sum / float64(total), float64(hits) / float64(total)
}

// checkTrain returns Train's error for data or a configuration that does
// not fit the network.
func (n *Network) checkTrain(method string, train, test *Dataset, cfg TrainConfig) error {
	if err := train.checkFor(n, "training set"); err != nil {
		return err
	}
	if test != nil {
		if err := test.checkFor(n, "test set"); err != nil {
			return err
		}
	}
	switch {
	case cfg.Epochs < 0:
		return fmt.Errorf("mlp: %s: %d epochs", method, cfg.Epochs)
	case cfg.BatchSize < 1:
		return fmt.Errorf("mlp: %s: batch size %d < 1", method, cfg.BatchSize)
	case cfg.Optimizer == nil:
		return fmt.Errorf("mlp: %s: no optimizer", method)
	case train.Len() == 0 && cfg.Epochs > 0:
		return fmt.Errorf("mlp: %s: empty training set", method)
	}
	return nil
}
