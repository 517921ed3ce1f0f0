//go:build !(linux && (amd64 || arm64))

package fakecuda

import (
	"errors"
	"runtime"
)

// Library reports that the fake driver is not available: package cuda
// loads no driver on this platform.
func Library() (string, error) {
	return "", errors.New("fakecuda: no fake driver on " + runtime.GOOS + "/" + runtime.GOARCH)
}

// ReadStats returns zeros: there is no fake driver on this platform.
func ReadStats() Stats { return Stats{} }
