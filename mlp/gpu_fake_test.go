package mlp

import (
	"errors"
	"os"
	"testing"

	"github.com/gokernels/gemm/cuda"
	"github.com/gokernels/gemm/internal/fakecuda"
)

// fakeMode reports whether the GPU tests run on the fake driver of package
// fakecuda: C functions with cuda.h's prototypes, loaded in place of
// libcuda.so.1, whose kernels run in the PTX simulator.
var fakeMode = os.Getenv("CUDA_TEST_FAKE") != ""

// openFake returns a context on device ordinal of the fake driver.
func openFake(ordinal int) (*cuda.Context, error) {
	path, err := fakecuda.Library()
	if err != nil {
		return nil, err
	}
	d, err := cuda.LoadLibrary(path)
	if err != nil {
		return nil, err
	}
	return d.Open(ordinal)
}

// skipFake skips a GPU test too large for the fake driver's simulator.
func skipFake(tb testing.TB) {
	if fakeMode {
		tb.Skip("too large for the simulator of the fake driver")
	}
}

// TestCUDAFakeDriver trains tiny networks through the fake driver, on
// both of its devices (compute capability 9.0 with 8 SMs, 5.2 with 2),
// with graphs and without, and compares with the CPU: the GPU backend's
// driver calls, as they are on a GPU, run in every test run.
func TestCUDAFakeDriver(t *testing.T) {
	if _, err := fakecuda.Library(); errors.Is(err, fakecuda.ErrNoCompiler) {
		t.Skip(err)
	}
	for ordinal := range 2 {
		ctx, err := openFake(ordinal)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(ctx.Device().Name, func(t *testing.T) {
			cases := simCases()
			if testing.Short() {
				cases = cases[:2]
			}
			for _, c := range cases {
				cpu := runTrain(t, c, nil, false, 2, nil)
				for _, graphs := range []bool{true, false} {
					compareRuns(t, runTrain(t, c, ctx, graphs, 2, nil), cpu, 1e-6, 1e-4)
				}
			}
			if _, used, _ := ctx.Budget(); used != 0 {
				t.Errorf("%d bytes left allocated", used)
			}
		})
		if err := ctx.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
