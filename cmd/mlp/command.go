package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/gokernels/gemm/mlp"
)

// command runs "mlp train" or "mlp eval" with the flags in args, writing
// its report to stdout; terminal says whether stdout is a terminal, which
// turns on the progress bar.
func command(cmd string, args []string, stdout io.Writer, terminal bool) error {
	c, err := parseFlags(cmd, args, stdout)
	if err != nil {
		return err
	}
	be, where, err := openBackend(c)
	if err != nil {
		return err
	}
	defer be.close()
	fmt.Fprintln(stdout, where)

	var net *mlp.Network
	if c.load != "" {
		if net, err = mlp.LoadFile(c.load); err != nil {
			return err
		}
	} else if net, err = mlp.New(c.architecture(), c.seed); err != nil {
		return err
	}
	be.use(net)
	train, test, err := loadData(c.data)
	if err != nil {
		return err
	}
	if net.Inputs() != test.Inputs || net.Outputs() != test.Outputs {
		return fmt.Errorf("mlp: the network takes %d inputs and gives %d outputs; MNIST has %d and %d", net.Inputs(), net.Outputs(), test.Inputs, test.Outputs)
	}

	if cmd == "eval" {
		loss, acc, err := be.evaluate(net, test, c.batch)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "test loss: %.4f\n", loss)
		fmt.Fprintf(stdout, "test accuracy: %.2f%%\n", 100*acc)
		return nil
	}

	var bar *progress
	if terminal {
		bar = &progress{w: stdout}
	}
	var last mlp.EpochStats
	cfg := mlp.TrainConfig{
		Epochs:    c.epochs,
		BatchSize: c.batch,
		Seed:      c.seed,
		Optimizer: c.newOptimizer(),
		OnEpoch: func(s mlp.EpochStats) {
			bar.clear()
			fmt.Fprintf(stdout, "epoch %d/%d - loss %.4f - acc %.4f - test_acc %.4f - %.2f s - %.0f samples/s\n",
				s.Epoch, s.Epochs, s.Loss, s.Accuracy, s.TestAccuracy, s.TrainTime.Seconds(), s.SamplesPerSecond())
			last = s
			if bar != nil {
				bar.epoch = s.Epoch + 1
			}
		},
	}
	if bar != nil {
		bar.epoch, bar.epochs = 1, c.epochs
		cfg.OnBatch = bar.update
	}
	if err := be.train(net, train, test, cfg); err != nil {
		return err
	}
	acc := last.TestAccuracy
	if c.epochs == 0 {
		if _, acc, err = be.evaluate(net, test, c.batch); err != nil {
			return err
		}
	}
	if c.save != "" {
		if err := net.SaveFile(c.save); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "saved the network to %s\n", c.save)
	}
	fmt.Fprintf(stdout, "test accuracy: %.2f%%\n", 100*acc)
	return nil
}

// loadData reads MNIST from dir, or from the GoMNIST module when dir is
// empty. A missing file gives an error that says how to get the data.
func loadData(dir string) (train, test *mlp.Dataset, err error) {
	if dir == "" {
		if dir, err = defaultDataDir(); err != nil {
			return nil, nil, err
		}
		train, test, err = mlp.LoadMNIST(dir)
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w; %s", err, mnistHint)
		}
		return train, test, err
	}
	train, test, err = mlp.LoadMNIST(dir)
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w; -data must name a folder holding %s, %s, %s and %s (or leave -data out to use the %s module)",
			err, mlp.MNISTTrainImages, mlp.MNISTTrainLabels, mlp.MNISTTestImages, mlp.MNISTTestLabels, mnistModule)
	}
	return train, test, err
}
