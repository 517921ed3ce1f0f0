package cuda

import "golang.org/x/sys/unix"

// threadID returns the OS thread's id.
func threadID() int { return unix.Gettid() }
