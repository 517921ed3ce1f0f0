//go:build !(linux && (amd64 || arm64))

package cuda

import (
	"errors"
	"runtime"
)

// defaultLibrary is the CUDA driver library of the platform.
const defaultLibrary = "libcuda.so.1"

var errUnsupported = errors.New("this package loads the CUDA driver only on linux/amd64 and linux/arm64, not on " + runtime.GOOS + "/" + runtime.GOARCH)

func dlopen(name string) (uintptr, error) { return 0, errUnsupported }

func dlsym(lib uintptr, name string) (uintptr, error) { return 0, errUnsupported }

func dlclose(lib uintptr) {}

func syscall(fn uintptr, args ...uintptr) uintptr {
	panic("cuda: driver call on an unsupported platform")
}
