package cuda

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestLoadLibraryMissing is the path of every machine without the NVIDIA
// driver.
func TestLoadLibraryMissing(t *testing.T) {
	const name = "libcuda-does-not-exist.so.1"
	d, err := LoadLibrary(name)
	if d != nil || err == nil {
		t.Fatalf("LoadLibrary(%q) = %v, %v", name, d, err)
	}
	if !errors.Is(err, ErrNoDriver) {
		t.Fatalf("error %v does not match ErrNoDriver", err)
	}
	for _, s := range []error{ErrNoDevice, ErrDriverMismatch, ErrOutOfMemory} {
		if errors.Is(err, s) {
			t.Errorf("error matches %v", s)
		}
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "dlopen "+name || e.Code != Success {
		t.Fatalf("errors.As: %+v", e)
	}
	msg := err.Error()
	for _, want := range []string{"cuda: dlopen " + name + ": cannot load the CUDA driver library " + name, "nvidia-smi", "NVIDIA driver"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if errors.Unwrap(err) == nil {
		t.Error("no underlying cause")
	}
}

// TestLoadLibraryNotCUDA loads a library that exists but is not the
// driver.
func TestLoadLibraryNotCUDA(t *testing.T) {
	libcFuncs(t)
	_, err := LoadLibrary("libc.so.6")
	if !errors.Is(err, ErrNoDriver) {
		t.Fatalf("LoadLibrary(libc.so.6): %v, want ErrNoDriver", err)
	}
	if want := "cuda: dlsym cuInit: libc.so.6 does not export cuInit: it is not the NVIDIA driver library"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want it to start with %q", err, want)
	}
}

// TestLoad checks the default path: on a machine without the driver Load,
// Open and Probe report ErrNoDriver, the same error every time.
func TestLoad(t *testing.T) {
	d, err := Load()
	if err == nil {
		t.Skipf("a CUDA driver is present (CUDA %s); the no-driver path is not reachable", VersionString(d.Version()))
	}
	if !errors.Is(err, ErrNoDriver) && !errors.Is(err, ErrNoDevice) && !errors.Is(err, ErrDriverMismatch) {
		t.Errorf("Load: %v matches none of ErrNoDriver, ErrNoDevice, ErrDriverMismatch", err)
	}
	if _, err2 := Load(); err2 != err {
		t.Errorf("second Load gave %v, want the same error %v", err2, err)
	}
	if _, err2 := Open(0); err2 != err {
		t.Errorf("Open gave %v, want %v", err2, err)
	}
	if err2 := Probe(0); err2 != err {
		t.Errorf("Probe gave %v, want %v", err2, err)
	}
}

// TestLoadLibraryInitError is the path of a machine with the driver
// library but no usable GPU (LD_LIBRARY_PATH naming a directory with the
// driver's libcuda.so.1 gives it without a GPU): cuInit fails, its error
// carries the library's CUDA version and the library stays loaded.
func TestLoadLibraryInitError(t *testing.T) {
	d, err := LoadLibrary(defaultLibrary)
	if err == nil {
		t.Skipf("a CUDA driver is present (CUDA %s); cuInit does not fail", VersionString(d.Version()))
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "cuInit" {
		t.Skipf("no driver library to initialise: %v", err)
	}
	if e.Code == ErrorStubLibrary {
		t.Skipf("the toolkit's stub library, without a version: %v", err)
	}
	if e.Version < 11000 {
		t.Errorf("cuInit error %q has Version %d, want the library's CUDA version", err, e.Version)
	}
	if _, known := results[e.Code]; known && e.Name != e.Code.String() {
		t.Errorf("cuInit error named %q, want %q", e.Name, e.Code.String())
	}
	maps, rerr := os.ReadFile("/proc/self/maps")
	if rerr != nil {
		t.Skipf("cannot check that the library stays loaded: %v", rerr)
	}
	if !strings.Contains(string(maps), "libcuda.so") {
		t.Error("the driver library was unloaded after cuInit")
	}
}

// TestResultRegister checks that only the lower 32 bits of the register
// that holds a C function's CUresult count: the ABI leaves the others
// undefined.
func TestResultRegister(t *testing.T) {
	hi := uintptr(0xdeadbeef)
	hi <<= 16
	hi <<= 16 // 0 on 32-bit platforms
	for _, c := range []struct {
		reg  uintptr
		want Result
	}{
		{0, Success},
		{hi, Success},
		{hi | 100, ErrorNoDevice},
		{hi | uintptr(^uint32(0)), -1},
		{uintptr(^uint32(0)), -1},
	} {
		if got := result(c.reg); got != c.want {
			t.Errorf("result(%#x) = %d, want %d", c.reg, got, c.want)
		}
	}
}

// TestSymbolNames checks the ABI names bound: the versioned names cuda.h
// maps the plain ones to, never the 32-bit originals.
func TestSymbolNames(t *testing.T) {
	var f funcs
	seen := map[string]bool{}
	for _, s := range f.symbols() {
		for _, n := range s.names {
			if seen[n] {
				t.Errorf("%s bound twice", n)
			}
			seen[n] = true
		}
	}
	for _, n := range []string{
		"cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuMemcpyDtoD_v2",
		"cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2", "cuMemcpyDtoDAsync_v2", "cuMemGetInfo_v2",
		"cuDeviceTotalMem_v2", "cuDevicePrimaryCtxRelease_v2", "cuStreamDestroy_v2", "cuEventDestroy_v2",
		"cuMemAllocHost_v2", "cuStreamBeginCapture_v2", "cuGraphInstantiateWithFlags",
	} {
		if !seen[n] {
			t.Errorf("%s not bound", n)
		}
	}
	for _, n := range []string{"cuMemAlloc", "cuMemFree", "cuMemcpyHtoD", "cuMemcpyDtoH", "cuMemGetInfo",
		"cuDeviceTotalMem", "cuDevicePrimaryCtxRelease", "cuStreamDestroy", "cuEventDestroy", "cuCtxCreate",
		"cuMemAllocHost", "cuMemsetD32", "cuStreamBeginCapture", "cuGraphInstantiate"} {
		if seen[n] {
			t.Errorf("unversioned %s bound", n)
		}
	}
}

// libcFuncs returns the addresses of libc's functions names, or skips the
// test where libc.so.6 cannot be loaded: everywhere but on linux/amd64 and
// linux/arm64, where the package uses dlopen.
func libcFuncs(t *testing.T, names ...string) []uintptr {
	t.Helper()
	libc, err := dlopen("libc.so.6")
	if err != nil {
		t.Skipf("no libc.so.6 to load: %v", err)
	}
	ps := make([]uintptr, len(names))
	for i, n := range names {
		p, err := dlsym(libc, n)
		if err != nil || p == 0 {
			t.Skipf("no %s in libc.so.6: %v", n, err)
		}
		ps[i] = p
	}
	return ps
}
