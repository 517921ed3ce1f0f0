// Package benchmarks holds the project's benchmark suite: how tiling
// strategies and worker counts behave as the batch grows. It has no API;
// run it with
//
//	go test -bench=. ./benchmarks                # about ten minutes on 2 cores
//	go test -bench=. ./benchmarks -full          # every network and shape
//	go test -bench=. -short ./benchmarks         # a subset, under two minutes
//
// Benchmark names are key=value paths (net=, N=, shape=, strategy=,
// workers=) so that benchstat can pivot them, for example
//
//	go tool benchstat -col /workers bench.txt
//	go tool benchstat -col /strategy -filter '/N:260' bench.txt
//
// Forward and TrainStep report samples/s; Sgemm reports GFLOP/s. Every
// benchmark allocates nothing in steady state.
package benchmarks
