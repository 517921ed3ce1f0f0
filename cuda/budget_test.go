package cuda

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestBudgetAccounting(t *testing.T) {
	var b budget
	if ok, limit, used := b.reserve(1 << 40); !ok || limit != 0 || used != 0 {
		t.Fatalf("no limit: reserve = %v, %d, %d", ok, limit, used)
	}
	b.release(1 << 40)

	b.setLimit(1000)
	if ok, _, _ := b.reserve(600); !ok {
		t.Fatal("600 of 1000 refused")
	}
	if ok, limit, used := b.reserve(401); ok || limit != 1000 || used != 600 {
		t.Fatalf("401 more: reserve = %v, %d, %d; want false, 1000, 600", ok, limit, used)
	}
	if ok, _, _ := b.reserve(400); !ok {
		t.Fatal("exactly the rest refused")
	}
	if ok, _, _ := b.reserve(1); ok {
		t.Fatal("1 byte over the budget accepted")
	}
	b.release(600)
	if limit, used, peak := b.state(); limit != 1000 || used != 400 || peak != 1<<40 {
		t.Fatalf("state = %d, %d, %d", limit, used, peak)
	}
	// Lowering the limit below the bytes in use refuses further allocations
	// and keeps the existing ones.
	b.setLimit(100)
	if ok, _, _ := b.reserve(1); ok {
		t.Fatal("allocation accepted over a lowered budget")
	}
	b.setLimit(0)
	if ok, _, _ := b.reserve(1 << 50); !ok {
		t.Fatal("removed limit still applies")
	}
}

func TestBudgetOverflow(t *testing.T) {
	var b budget
	b.setLimit(1 << 62)
	b.reserve(1 << 62)
	// used+n would overflow int64; the check must not.
	if ok, _, _ := b.reserve(1<<63 - 1); ok {
		t.Fatal("overflowing reservation accepted")
	}
}

func TestBudgetConcurrent(t *testing.T) {
	var b budget
	b.setLimit(1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if ok, _, _ := b.reserve(3); ok {
					mu.Lock()
					accepted++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if accepted != 333 {
		t.Errorf("%d reservations of 3 bytes accepted within 1000, want 333", accepted)
	}
}

func TestBudgetPanics(t *testing.T) {
	mustPanic(t, "cuda: SetBudget(-1): the budget must be >= 0 (0 for none)", func() {
		var b budget
		b.setLimit(-1)
	})
	mustPanic(t, "cuda: internal error: releasing 5 bytes with 0 in use", func() {
		var b budget
		b.release(5)
	})
}

func TestBudgetError(t *testing.T) {
	err := error(budgetError("Alloc", 600, 80<<30, 1000, 500))
	if !errors.Is(err, ErrOutOfMemory) || errors.Is(err, ErrNoDriver) {
		t.Errorf("errors.Is wrong for %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Requested != 600 || e.Free != 80<<30 || e.Budget != 1000 || e.InUse != 500 || e.Code != Success {
		t.Fatalf("got %+v", e)
	}
	want := "cuda: Alloc: the allocation would exceed the context's memory budget by 100 bytes; requested 600 bytes, " +
		"85899345920 bytes (80.00 GiB) free on the device, budget 1000 bytes of which 500 bytes in use; " +
		"lower the batch size, free other buffers or raise the budget; nvidia-smi shows what other processes hold"
	if got := err.Error(); got != want {
		t.Errorf("message\n%s\nwant\n%s", got, want)
	}
	if msg := budgetError("Alloc", 10, -1, 5, 0).Error(); strings.Contains(msg, "free on the device") {
		t.Errorf("unknown free memory reported: %s", msg)
	}
}

// mustPanic checks that f panics with exactly the message want.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("no panic, want %q", want)
			return
		}
		if got, _ := r.(string); got != want {
			t.Errorf("panic %q\nwant  %q", r, want)
		}
	}()
	f()
}
