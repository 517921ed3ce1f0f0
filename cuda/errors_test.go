package cuda

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

func TestResultNames(t *testing.T) {
	for _, c := range []struct {
		r    Result
		name string
	}{
		{Success, "CUDA_SUCCESS"},
		{ErrorOutOfMemory, "CUDA_ERROR_OUT_OF_MEMORY"},
		{ErrorStubLibrary, "CUDA_ERROR_STUB_LIBRARY"},
		{ErrorNoDevice, "CUDA_ERROR_NO_DEVICE"},
		{ErrorInvalidPTX, "CUDA_ERROR_INVALID_PTX"},
		{ErrorPTXVersion, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION"},
		{ErrorDriverMismatch, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"},
		{ErrorDeviceUnavailable, "CUDA_ERROR_DEVICE_UNAVAILABLE"},
		{ErrorJITCompilerNotFound, "CUDA_ERROR_JIT_COMPILER_NOT_FOUND"},
		{ErrorJITCompilationDisabled, "CUDA_ERROR_JIT_COMPILATION_DISABLED"},
		{ErrorSystemNotReady, "CUDA_ERROR_SYSTEM_NOT_READY"},
		{ErrorCompatNotSupported, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"},
		{errorNotReady, "CUDA_ERROR_NOT_READY"},
		{errorStreamCaptureUnsupported, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"},
		{errorStreamCaptureInvalidated, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"},
		{999, "CUDA_ERROR_UNKNOWN"},
		{12345, "CUresult(12345)"},
	} {
		if got := c.r.String(); got != c.name {
			t.Errorf("Result(%d).String() = %q, want %q", int(c.r), got, c.name)
		}
	}
	if got := Result(12345).Text(); got != "unknown CUDA error" {
		t.Errorf("Text of an unknown code = %q", got)
	}
	for r, info := range results {
		if !strings.HasPrefix(info.name, "CUDA_") || info.text == "" {
			t.Errorf("results[%d] = %+v", r, info)
		}
	}
}

func TestErrorSentinels(t *testing.T) {
	sentinels := []error{ErrNoDriver, ErrNoDevice, ErrDriverMismatch, ErrPTXVersion, ErrInvalidPTX, ErrOutOfMemory}
	for _, c := range []struct {
		r    Result
		want error
		hint string // a word the message must contain
	}{
		{ErrorStubLibrary, ErrNoDriver, "stubs"},
		{ErrorNoDevice, ErrNoDevice, "nvidia-smi"},
		{ErrorInvalidDevice, ErrNoDevice, ""},
		{ErrorDriverMismatch, ErrDriverMismatch, "/proc/driver/nvidia/version"},
		{ErrorPTXVersion, ErrPTXVersion, "update the driver"},
		{ErrorInvalidPTX, ErrInvalidPTX, "JIT"},
		{ErrorOutOfMemory, ErrOutOfMemory, "budget"},
		{ErrorJITCompilerNotFound, ErrNoDriver, "libnvidia-ptxjitcompiler.so.1"},
		{ErrorJITCompilerNotFound, ErrNoDriver, "NVIDIA_DRIVER_CAPABILITIES=compute,utility"},
		{ErrorJITCompilationDisabled, nil, "unset CUDA_DISABLE_PTX_JIT"},
		{ErrorCompatNotSupported, ErrDriverMismatch, "remove that directory so that the installed driver's libcuda.so.1 is used"},
		{ErrorCompatNotSupported, ErrDriverMismatch, ".../compat directory on LD_LIBRARY_PATH"},
		{ErrorSystemNotReady, nil, "nvidia-fabricmanager"},
		{ErrorDeviceUnavailable, nil, "nvidia-smi -q -d COMPUTE"},
		{ErrorDeviceUnavailable, nil, "exclusive-process"},
		{ErrorInvalidValue, nil, ""},
		{719, nil, ""},
	} {
		err := error(newError("cuSomething", c.r, nil))
		for _, s := range sentinels {
			if got := errors.Is(err, s); got != (s == c.want) {
				t.Errorf("errors.Is(%s, %v) = %v", c.r, s, got)
			}
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != c.r || e.Op != "cuSomething" {
			t.Fatalf("errors.As: %#v", e)
		}
		msg := err.Error()
		wantPrefix := fmt.Sprintf("cuda: cuSomething: %s (%d): %s", c.r, int(c.r), c.r.Text())
		if !strings.HasPrefix(msg, wantPrefix) {
			t.Errorf("message %q does not start with %q", msg, wantPrefix)
		}
		if c.hint != "" && !strings.Contains(msg, c.hint) {
			t.Errorf("message %q lacks %q", msg, c.hint)
		}
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s matches fs.ErrNotExist", c.r)
		}
	}
}

func TestErrorDriverNames(t *testing.T) {
	names := func(r Result) (string, string) { return "NAME_FROM_DRIVER", "text from driver" }
	e := newError("cuInit", ErrorNoDevice, names)
	if e.Name != "NAME_FROM_DRIVER" || e.Text != "text from driver" || !errors.Is(e, ErrNoDevice) {
		t.Errorf("got %+v", e)
	}
	// A driver that does not know the code: the built-in table.
	e = newError("cuInit", ErrorNoDevice, func(Result) (string, string) { return "", "" })
	if e.Name != "CUDA_ERROR_NO_DEVICE" {
		t.Errorf("name %q", e.Name)
	}
}

func TestErrorDetails(t *testing.T) {
	e := newError("cuModuleLoadDataEx", ErrorInvalidPTX, nil)
	e.Module = "sgemm.ptx"
	e.Log = "ptxas application ptx input, line 12; error   : Unknown symbol 'x'\n"
	msg := e.Error()
	for _, want := range []string{"(module sgemm.ptx)", "CUDA_ERROR_INVALID_PTX (218)", "\nJIT log:\nptxas application ptx input, line 12"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}

	e = newError("cuModuleLoadDataEx", ErrorPTXVersion, nil)
	e.Version = 11020
	if msg := e.Error(); !strings.Contains(msg, "this driver supports CUDA 11.2") {
		t.Errorf("message %q lacks the driver version", msg)
	}

	// The driver's version in the hints that concern versions, when known.
	for _, r := range []Result{ErrorDriverMismatch, ErrorCompatNotSupported} {
		e = newError("cuInit", r, nil)
		if msg := e.Error(); strings.Contains(msg, "supports CUDA") {
			t.Errorf("message %q names a driver version, none known", msg)
		}
		e.Version = 12020
		if msg := e.Error(); !strings.HasSuffix(msg, "; the loaded driver library supports CUDA 12.2") {
			t.Errorf("message %q does not end with the driver version", msg)
		}
	}
	// The hints of the codes with a sentinel of their own are not the
	// sentinel's general hint.
	if msg := newError("cuInit", ErrorCompatNotSupported, nil).Error(); strings.Contains(msg, "/proc/driver/nvidia/version") {
		t.Errorf("compatibility error %q has the hint of a driver mismatch", msg)
	}

	e = newError("cuMemAlloc_v2", ErrorOutOfMemory, nil)
	e.Requested, e.Free, e.Budget, e.InUse = 3<<30, 1<<30, 4<<30, 2<<29
	msg = e.Error()
	for _, want := range []string{"requested 3221225472 bytes (3.00 GiB)", "1073741824 bytes (1.00 GiB) free", "budget 4294967296 bytes (4.00 GiB) of which 1073741824 bytes (1.00 GiB) in use"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}

func TestVersionString(t *testing.T) {
	for v, want := range map[int]string{11000: "11.0", 12040: "12.4", 13010: "13.1", 11080: "11.8"} {
		if got := VersionString(v); got != want {
			t.Errorf("VersionString(%d) = %q, want %q", v, got, want)
		}
	}
}
