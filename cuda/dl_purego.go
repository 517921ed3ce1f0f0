//go:build linux && (amd64 || arm64)

package cuda

import "github.com/ebitengine/purego"

// defaultLibrary is the CUDA driver library of the platform.
const defaultLibrary = "libcuda.so.1"

// errUnsupported is the dlopen error of platforms without a binding: none
// here.
var errUnsupported error

func dlopen(name string) (uintptr, error) {
	return purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
}

func dlsym(lib uintptr, name string) (uintptr, error) { return purego.Dlsym(lib, name) }

func dlclose(lib uintptr) { purego.Dlclose(lib) }

// syscall calls the C function fn with integer and pointer arguments and
// returns its result. Pointers converted to uintptr in the call are kept
// alive and in place for its duration.
//
//go:uintptrescapes
func syscall(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}
