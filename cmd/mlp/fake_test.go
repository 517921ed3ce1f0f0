package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gokernels/gemm/internal/fakecuda"
)

// fakeMode reports whether the tests that need a GPU run on the fake
// driver library of package fakecuda (CUDA_TEST_FAKE set).
var fakeMode = os.Getenv("CUDA_TEST_FAKE") != ""

// rerunOnFake runs test t again, in a new process of this test binary
// whose LD_LIBRARY_PATH names the fake driver's folder, so that cuda.Open,
// as the command calls it, loads the fake driver, and reports whether it
// did (the caller then returns). In that process, where the fake library
// is already loaded with its hooks (the dynamic loader loads a file once),
// it returns false and the test goes on. Without fakeMode it returns
// false.
func rerunOnFake(t *testing.T) bool {
	if !fakeMode {
		return false
	}
	path, err := fakecuda.Library()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	if os.Getenv("LD_LIBRARY_PATH") == dir {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+dir)
	out, err := cmd.CombinedOutput()
	t.Logf("on the fake driver:\n%s", out)
	if err != nil {
		t.Fatalf("on the fake driver: %v", err)
	}
	return true
}
