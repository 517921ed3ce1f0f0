package main

import (
	"errors"
	"fmt"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/cuda"
	"github.com/gokernels/gemm/mlp"
)

// backend trains and evaluates networks where -backend says: on a Tiler's
// workers, or on a CUDA device.
type backend struct {
	tiler *gemm.Tiler   // -backend cpu
	ctx   *cuda.Context // -backend cuda
}

// openBackend starts the backend of c and returns it with the line that
// says what runs where. For -backend cuda it opens the device first, so
// that a missing driver or device is reported before anything else.
func openBackend(c *config) (*backend, string, error) {
	if c.backend == "cuda" {
		ctx, err := openCUDA(c.device)
		if err != nil {
			return nil, "", err
		}
		dev := ctx.Device()
		return &backend{ctx: ctx}, fmt.Sprintf("cuda: %s (sm_%d%d, %d SMs), device %d", dev.Name, dev.Major, dev.Minor, dev.SMs, dev.Ordinal), nil
	}
	t := gemm.NewTiler(c.workers, c.strategy)
	cpus := availableCPUs()
	plural := "s"
	if cpus == 1 {
		plural = ""
	}
	return &backend{tiler: t}, fmt.Sprintf("cpu: %d workers (of %d CPU%s), strategy %v, kernel %s", c.workers, cpus, plural, c.strategy, t.Kernel()), nil
}

// openCUDA opens CUDA device ordinal. Without a driver or a device the
// error says which, and what to check, in one line.
func openCUDA(ordinal int) (*cuda.Context, error) {
	ctx, err := cuda.Open(ordinal)
	switch {
	case errors.Is(err, cuda.ErrNoDriver):
		return nil, fmt.Errorf("mlp: -backend cuda: no CUDA driver: %v; or use -backend cpu", err)
	case errors.Is(err, cuda.ErrNoDevice):
		return nil, fmt.Errorf("mlp: -backend cuda: no CUDA device %d: %v; or use -backend cpu", ordinal, err)
	case err != nil:
		return nil, fmt.Errorf("mlp: -backend cuda: %w", err)
	}
	return ctx, nil
}

// close releases the Tiler's workers or the device.
func (b *backend) close() {
	if b.tiler != nil {
		b.tiler.Close()
	}
	if b.ctx != nil {
		b.ctx.Close()
	}
}

// use prepares net to run on the backend.
func (b *backend) use(net *mlp.Network) {
	if b.tiler != nil {
		net.SetTilers(b.tiler, nil)
	}
}

func (b *backend) train(net *mlp.Network, train, test *mlp.Dataset, cfg mlp.TrainConfig) error {
	if b.ctx != nil {
		return net.TrainCUDA(b.ctx, train, test, cfg)
	}
	return net.Train(train, test, cfg)
}

func (b *backend) evaluate(net *mlp.Network, d *mlp.Dataset, batch int) (loss, accuracy float64, err error) {
	if b.ctx != nil {
		return net.EvaluateCUDA(b.ctx, d, batch)
	}
	return net.Evaluate(d, batch)
}
