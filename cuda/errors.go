package cuda

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Result is a CUresult, the status code of a CUDA driver call.
type Result int32

// The results that this package treats specially. The full list is in the
// driver's cuda.h; String knows the names of all of them.
const (
	Success                     Result = 0
	ErrorInvalidValue           Result = 1
	ErrorOutOfMemory            Result = 2
	ErrorNotInit                Result = 3
	ErrorStubLibrary            Result = 34
	ErrorDeviceUnavailable      Result = 46
	ErrorNoDevice               Result = 100
	ErrorInvalidDevice          Result = 101
	ErrorInvalidPTX             Result = 218
	ErrorJITCompilerNotFound    Result = 221
	ErrorPTXVersion             Result = 222
	ErrorJITCompilationDisabled Result = 223
	ErrorNotFound               Result = 500
	ErrorNotSupported           Result = 801
	ErrorSystemNotReady         Result = 802
	ErrorDriverMismatch         Result = 803
	ErrorCompatNotSupported     Result = 804
)

// String returns the name of r as cuda.h spells it, such as
// "CUDA_ERROR_OUT_OF_MEMORY", or "CUresult(n)" for an unknown code.
func (r Result) String() string {
	if e, ok := results[r]; ok {
		return e.name
	}
	return "CUresult(" + strconv.Itoa(int(r)) + ")"
}

// Text returns the built-in description of r, the one cuGetErrorString
// gives for the codes this package knows.
func (r Result) Text() string {
	if e, ok := results[r]; ok {
		return e.text
	}
	return "unknown CUDA error"
}

// Sentinel errors, for errors.Is. Every error of this package that matches
// one of them is an *Error with the details.
var (
	// ErrNoDriver: the CUDA driver library could not be loaded, is the
	// toolkit's stub (CUDA_ERROR_STUB_LIBRARY), lacks a symbol this
	// package needs, or the platform is not supported; or the driver's
	// PTX JIT compiler library is missing
	// (CUDA_ERROR_JIT_COMPILER_NOT_FOUND), so that no module of this
	// package, all PTX, can be loaded.
	ErrNoDriver = errors.New("cuda: no CUDA driver")
	// ErrNoDevice: the driver sees no CUDA device (CUDA_ERROR_NO_DEVICE),
	// or the device ordinal is out of range.
	ErrNoDevice = errors.New("cuda: no CUDA device")
	// ErrDriverMismatch: the driver library and the kernel module are of
	// different versions (CUDA_ERROR_SYSTEM_DRIVER_MISMATCH), or the
	// library is a forward-compatibility driver (cuda-compat) that does
	// not support the GPU (CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE).
	ErrDriverMismatch = errors.New("cuda: driver library and kernel module mismatch")
	// ErrPTXVersion: the driver is too old for the PTX ISA version of a
	// module (CUDA_ERROR_UNSUPPORTED_PTX_VERSION).
	ErrPTXVersion = errors.New("cuda: PTX version not supported by the driver")
	// ErrInvalidPTX: the driver's JIT compiler rejected a module
	// (CUDA_ERROR_INVALID_PTX); the *Error carries the JIT log.
	ErrInvalidPTX = errors.New("cuda: invalid PTX")
	// ErrOutOfMemory: an allocation failed on the device
	// (CUDA_ERROR_OUT_OF_MEMORY) or would exceed the context's budget; the
	// *Error carries the requested, free and budget bytes.
	ErrOutOfMemory = errors.New("cuda: out of device memory")
)

// sentinelOf maps a driver result to its sentinel, or nil.
func sentinelOf(r Result) error {
	switch r {
	case ErrorStubLibrary, ErrorJITCompilerNotFound:
		return ErrNoDriver
	case ErrorNoDevice, ErrorInvalidDevice:
		return ErrNoDevice
	case ErrorDriverMismatch, ErrorCompatNotSupported:
		return ErrDriverMismatch
	case ErrorPTXVersion:
		return ErrPTXVersion
	case ErrorInvalidPTX:
		return ErrInvalidPTX
	case ErrorOutOfMemory:
		return ErrOutOfMemory
	}
	return nil
}

// Error is an error of this package: a failed driver call, or a failure
// to load the driver or to stay within a memory budget.
type Error struct {
	Op   string // what failed: a driver function such as "cuMemAlloc_v2", or "dlopen libcuda.so.1", "budget"
	Code Result // the driver's result; Success when the failure is not a driver result
	Name string // the result's name, such as "CUDA_ERROR_OUT_OF_MEMORY"
	Text string // the driver's description of the result, or another explanation

	// Log is the JIT compiler's error log of a module load, if any.
	Log string
	// Module names the module of a failed module load.
	Module string

	// For ErrOutOfMemory: the bytes requested, the bytes the device had
	// free (-1 if unknown), the context's budget (0 for none) and the bytes
	// of the budget already in use.
	Requested, Free, Budget, InUse int64

	// Version is the driver's CUDA version (such as 12040), 0 if unknown.
	Version int

	sentinel error
	cause    error
}

// Error returns a message that names the operation, the driver's code,
// name and text, and what to check.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cuda: ")
	b.WriteString(e.Op)
	if e.Module != "" {
		fmt.Fprintf(&b, " (module %s)", e.Module)
	}
	b.WriteString(": ")
	if e.Code != Success {
		fmt.Fprintf(&b, "%s (%d): ", e.Name, int(e.Code))
	}
	b.WriteString(e.Text)
	if e.sentinel == ErrOutOfMemory {
		fmt.Fprintf(&b, "; requested %s", bytesString(e.Requested))
		if e.Free >= 0 {
			fmt.Fprintf(&b, ", %s free on the device", bytesString(e.Free))
		}
		if e.Budget > 0 {
			fmt.Fprintf(&b, ", budget %s of which %s in use", bytesString(e.Budget), bytesString(e.InUse))
		}
	}
	if h := e.hint(); h != "" {
		b.WriteString("; ")
		b.WriteString(h)
	}
	if e.Log != "" {
		b.WriteString("\nJIT log:\n")
		b.WriteString(strings.TrimRight(e.Log, "\n"))
	}
	return b.String()
}

// hint says what to check for the sentinel errors and for the codes that
// a misconfigured machine or container gives.
func (e *Error) hint() string {
	switch {
	case e.Code == ErrorStubLibrary:
		return "the libcuda.so.1 that was loaded is the CUDA toolkit's stub (from a .../stubs directory): " +
			"remove that directory from LD_LIBRARY_PATH so that the NVIDIA driver's libcuda.so.1 is found, and check that nvidia-smi works"
	case e.Code == ErrorJITCompilerNotFound:
		return "the driver's PTX JIT compiler library, libnvidia-ptxjitcompiler.so.1, is missing, and this package loads " +
			"its kernels only as PTX, so nothing can run: install it with the driver; in a container, let the NVIDIA " +
			"runtime mount the 'compute' driver capability (NVIDIA_DRIVER_CAPABILITIES=compute,utility)"
	case e.Code == ErrorJITCompilationDisabled:
		return "PTX JIT compilation is disabled by the environment variable CUDA_DISABLE_PTX_JIT, and this package " +
			"loads its kernels only as PTX: unset CUDA_DISABLE_PTX_JIT"
	case e.Code == ErrorCompatNotSupported:
		return "the libcuda.so.1 that was loaded is a forward-compatibility driver (the cuda-compat package, from a " +
			".../compat directory on LD_LIBRARY_PATH or in the ld.so configuration), and it does not support this GPU: " +
			"remove that directory so that the installed driver's libcuda.so.1 is used" + e.versionNote()
	case e.Code == ErrorSystemNotReady:
		return "the system is not yet initialised: on NVSwitch systems (HGX, DGX), start the fabric manager " +
			"(systemctl start nvidia-fabricmanager) and check its log"
	case e.Code == ErrorDeviceUnavailable:
		return "the GPU is busy or unavailable: in exclusive-process compute mode it serves one process at a time; " +
			"nvidia-smi -q -d COMPUTE shows the mode and nvidia-smi the processes that use the GPU"
	case e.sentinel == ErrNoDriver && errUnsupported != nil && e.cause == errUnsupported:
		return "use linux/amd64 or linux/arm64 for the GPU backend"
	case e.sentinel == ErrNoDriver && e.cause != nil:
		return "check that the NVIDIA driver is installed and nvidia-smi works; libcuda.so.1 comes with the driver, " +
			"not with the CUDA toolkit (`ldconfig -p | grep libcuda` lists it); in a container, start it with the " +
			"NVIDIA container runtime (docker run --gpus all)"
	case e.sentinel == ErrNoDevice && e.Code == ErrorNoDevice:
		return "the driver sees no CUDA device: check nvidia-smi, CUDA_VISIBLE_DEVICES and, in a container, --gpus"
	case e.sentinel == ErrDriverMismatch:
		return "the driver library and the loaded kernel module have different versions, usually after a driver " +
			"update without a reboot: compare nvidia-smi with /proc/driver/nvidia/version, then reboot or reload the nvidia module" +
			e.versionNote()
	case e.sentinel == ErrPTXVersion:
		h := "the NVIDIA driver is older than the PTX ISA version of the module (PTX 7.0 needs a CUDA 11.0 driver, r450 or newer): update the driver"
		if e.Version > 0 {
			h += "; this driver supports CUDA " + VersionString(e.Version)
		}
		return h
	case e.sentinel == ErrInvalidPTX:
		return "the driver's JIT compiler rejected the module; see the log"
	case e.sentinel == ErrOutOfMemory:
		return "lower the batch size, free other buffers or raise the budget; nvidia-smi shows what other processes hold"
	}
	return ""
}

// versionNote names the CUDA version of the loaded driver library for a
// hint, or is empty when it is unknown.
func (e *Error) versionNote() string {
	if e.Version <= 0 {
		return ""
	}
	return "; the loaded driver library supports CUDA " + VersionString(e.Version)
}

// Is reports whether target is the sentinel that e belongs to.
func (e *Error) Is(target error) bool { return target != nil && target == e.sentinel }

// Unwrap returns the underlying cause, such as the dynamic loader's error.
func (e *Error) Unwrap() error { return e.cause }

// VersionString formats a CUDA version number such as 12040 as "12.4".
func VersionString(v int) string {
	return strconv.Itoa(v/1000) + "." + strconv.Itoa(v%1000/10)
}

func bytesString(n int64) string {
	const (
		kib = 1 << 10
		mib = 1 << 20
		gib = 1 << 30
	)
	switch {
	case n >= gib:
		return fmt.Sprintf("%d bytes (%.2f GiB)", n, float64(n)/gib)
	case n >= mib:
		return fmt.Sprintf("%d bytes (%.1f MiB)", n, float64(n)/mib)
	case n >= kib:
		return fmt.Sprintf("%d bytes (%.1f KiB)", n, float64(n)/kib)
	}
	return fmt.Sprintf("%d bytes", n)
}

// newError returns the error for result r of op, with the name and text
// from the driver when names is not nil, else from the built-in table.
func newError(op string, r Result, names func(Result) (string, string)) *Error {
	name, text := r.String(), r.Text()
	if names != nil {
		if n, t := names(r); n != "" {
			name, text = n, t
		}
	}
	return &Error{Op: op, Code: r, Name: name, Text: text, sentinel: sentinelOf(r), Free: -1}
}

// noDriverError is the error for a driver library that cannot be used.
func noDriverError(op, text string, cause error) *Error {
	return &Error{Op: op, Text: text, sentinel: ErrNoDriver, cause: cause, Free: -1}
}
