//go:build !(linux && (amd64 || arm64))

package fakecuda

import (
	"errors"
	"runtime"
)

// ErrNoCompiler is the error of Library when the fake driver cannot be
// built; on this platform, always.
var ErrNoCompiler = errors.New("fakecuda: no fake driver on " + runtime.GOOS + "/" + runtime.GOARCH)

// Library reports that the fake driver is not available: package cuda
// loads no driver on this platform.
func Library() (string, error) {
	return "", ErrNoCompiler
}

// ReadStats returns zeros: there is no fake driver on this platform.
func ReadStats() Stats { return Stats{} }
