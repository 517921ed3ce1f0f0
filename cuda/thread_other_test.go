//go:build !linux

package cuda

// threadID returns 0: the fake driver, whose tests use it, runs on Linux
// only.
func threadID() int { return 0 }
