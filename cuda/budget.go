package cuda

import (
	"fmt"
	"sync"
)

// budget counts the device memory allocated through one Context against
// an optional limit. It is pure bookkeeping, independent of the driver.
type budget struct {
	mu    sync.Mutex
	limit int64 // 0: no limit
	used  int64
	peak  int64
}

// setLimit sets the limit; 0 removes it. It panics on a negative limit.
func (b *budget) setLimit(n int64) {
	if n < 0 {
		panic(fmt.Sprintf("cuda: SetBudget(%d): the budget must be >= 0 (0 for none)", n))
	}
	b.mu.Lock()
	b.limit = n
	b.mu.Unlock()
}

// reserve counts n more bytes if they fit in the limit. It returns whether
// they did, with the limit and the bytes in use before the call.
func (b *budget) reserve(n int64) (ok bool, limit, used int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	limit, used = b.limit, b.used
	if limit > 0 && n > limit-used {
		return false, limit, used
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return true, limit, used
}

// release uncounts n bytes.
func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.used {
		panic(fmt.Sprintf("cuda: internal error: releasing %d bytes with %d in use", n, b.used))
	}
	b.used -= n
}

// state returns the limit, the bytes in use and the peak.
func (b *budget) state() (limit, used, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit, b.used, b.peak
}

// budgetError is the error for an allocation of requested bytes that the
// budget refused; free is the device's free memory, -1 if unknown.
func budgetError(op string, requested, free, limit, used int64) *Error {
	return &Error{
		Op:        op,
		Text:      fmt.Sprintf("the allocation would exceed the context's memory budget by %s", bytesString(used+requested-limit)),
		Requested: requested, Free: free, Budget: limit, InUse: used,
		sentinel: ErrOutOfMemory,
	}
}
