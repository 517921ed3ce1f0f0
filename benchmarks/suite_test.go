package benchmarks

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gokernels/gemm"
)

var full = flag.Bool("full", false, "run the full grid: every network, shape and layout")

// strategies and workers are swept by every benchmark: one, two, and more
// workers than this 2-core machine has, to show what splitting the work
// finer than the machine costs.
var (
	strategies = gemm.Strategies()
	workers    = []int{1, 2, 4, 8}
	batches    = []int{50, 100, 200, 250, 260, 500, 2000, 10000, 20000}
)

// grid returns the values to sweep: all of them, or in -short mode the
// ones listed in short.
func grid[T comparable](all []T, short ...T) []T {
	if testing.Short() && len(short) > 0 {
		return short
	}
	return all
}

// randomInputs returns n values uniform in [0, 1), like scaled pixels.
func randomInputs(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = rng.Float32()
	}
	return x
}

// netName spells layer sizes as in the benchmark names: 784-100-50-10.
func netName(sizes []int) string {
	s := make([]string, len(sizes))
	for i, v := range sizes {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, "-")
}

// withTiler runs f with a Tiler of w workers and strategy s, closed after.
func withTiler(w int, s gemm.Strategy, f func(t *gemm.Tiler)) {
	t := gemm.NewTiler(w, s)
	defer t.Close()
	f(t)
}
