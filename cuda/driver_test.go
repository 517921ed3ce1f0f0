package cuda

import (
	"errors"
	"runtime"
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
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("dlopen is only used on linux/amd64 and linux/arm64")
	}
	if _, err := dlopen("libc.so.6"); err != nil {
		t.Skipf("no libc.so.6 to load: %v", err)
	}
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
		"cuMemAllocHost_v2", "cuMemsetD32_v2", "cuStreamBeginCapture_v2", "cuGraphInstantiateWithFlags",
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
