package cuda

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// The tests of this file check how Stream.Capture ends: after a panic of
// the record function, and after a call that invalidates the capture.

// capturePanic runs s.Capture(record) and returns what record panicked
// with, failing t if Capture returned.
func capturePanic(t *testing.T, s *Stream, record func() error) (recovered any) {
	t.Helper()
	defer func() { recovered = recover() }()
	g, err := s.Capture(record)
	t.Errorf("Capture returned %v, %v; want a panic", g, err)
	return nil
}

// TestSimCapturePanic: a panic of record ends the capture, so that the
// stream and the context stay usable.
func TestSimCapturePanic(t *testing.T) {
	c, s := simStream(t)
	checkCapturePanic(t, c, s)
}

// checkCapturePanic checks that a panic of record ends the capture on s:
// the synchronous operations work, the work recorded before the panic has
// not run, and s can capture again.
func checkCapturePanic(t *testing.T, c *Context, s *Stream) {
	b := upload(t, c, []float32{1, 2, 3})
	r := capturePanic(t, s, func() error {
		if err := b.Fill(s, 9); err != nil {
			t.Error(err)
		}
		panic("record panics")
	})
	if r != "record panics" {
		t.Fatalf("recovered %v, want the panic of record", r)
	}
	if got := read(t, s, b); !equal(got, []float32{1, 2, 3}) {
		t.Errorf("after the panic: %v, want [1 2 3]", got)
	}
	d, err := Alloc[float32](c, 3)
	if err != nil {
		t.Fatalf("Alloc after the panic: %v", err)
	}
	defer d.Free()
	if err := d.CopyFromHost([]float32{4, 5, 6}); err != nil {
		t.Fatalf("CopyFromHost after the panic: %v", err)
	}
	if err := c.Synchronize(); err != nil {
		t.Fatalf("Synchronize after the panic: %v", err)
	}
	if err := b.Fill(s, 7); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, b); !equal(got, []float32{7, 7, 7}) {
		t.Errorf("Fill after the panic: %v", got)
	}
	g, err := s.Capture(func() error { return b.CopyFrom(s, d) })
	if err != nil {
		t.Fatalf("Capture after the panic: %v", err)
	}
	defer g.Destroy()
	if got := read(t, s, b); !equal(got, []float32{7, 7, 7}) {
		t.Errorf("the second capture ran its work: %v", got)
	}
	if err := g.Launch(s); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, b); !equal(got, []float32{4, 5, 6}) {
		t.Errorf("replay: %v, want [4 5 6]", got)
	}
}

// TestSimCaptureGoexit: record that ends its goroutine (as t.FailNow does)
// ends the capture too.
func TestSimCaptureGoexit(t *testing.T) {
	c, s := simStream(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.Capture(func() error {
			runtime.Goexit()
			return nil
		})
		t.Error("Capture returned")
	}()
	wg.Wait()
	if err := s.Sync(); err != nil {
		t.Errorf("Sync after Goexit in record: %v", err)
	}
	if _, err := Alloc[float32](c, 1); err != nil {
		t.Errorf("Alloc after Goexit in record: %v", err)
	}
}

// TestSimCaptureInvalidated: a synchronous operation of the context
// during a capture fails and invalidates it, as on a GPU, from the
// capturing goroutine or another one.
func TestSimCaptureInvalidated(t *testing.T) {
	c, s := simStream(t)
	b := upload(t, c, []float32{1, 2})
	calls := []struct {
		name, op string
		call     func() error
	}{
		{"Alloc", "cuMemAlloc_v2", func() error { _, err := Alloc[float32](c, 1); return err }},
		{"Upload", "cuMemAlloc_v2", func() error { _, err := Upload(c, []float32{1}); return err }},
		{"CopyFromHost", "cuMemcpyHtoD_v2", func() error { return b.CopyFromHost([]float32{3, 4}) }},
		{"CopyToHost", "cuMemcpyDtoH_v2", func() error { return b.CopyToHost(make([]float32, 2)) }},
		{"Read", "cuMemcpyDtoH_v2", func() error { _, err := b.Read(); return err }},
		{"Stream.Sync", "cuStreamSynchronize", s.Sync},
		{"Context.Synchronize", "cuCtxSynchronize", c.Synchronize},
		{"Free", "cuMemFree_v2", nil}, // of a buffer allocated before the capture
	}
	for _, x := range calls {
		for _, other := range []bool{false, true} {
			where := "in record"
			if other {
				where = "from another goroutine"
			}
			call := x.call
			if call == nil {
				call = must[*Buffer[float32]](t)(Alloc[float32](c, 1)).Free
			}
			var callErr error
			g, err := s.Capture(func() error {
				if err := b.Fill(s, 5); err != nil {
					return err
				}
				if other {
					done := make(chan struct{})
					go func() { callErr = call(); close(done) }()
					<-done
				} else {
					callErr = call()
				}
				return nil // ignores callErr
			})
			var ce *Error
			if !errors.As(callErr, &ce) || ce.Code != errorStreamCaptureUnsupported || ce.Op != x.op {
				t.Errorf("%s %s while capturing: %v, want %s failing with CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", x.name, where, callErr, x.op)
			}
			var e *Error
			if g != nil || !errors.As(err, &e) || e.Code != errorStreamCaptureInvalidated || e.Op != "cuStreamEndCapture" {
				t.Errorf("Capture with %s %s: %v, %v; want cuStreamEndCapture failing with CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", x.name, where, g, err)
			} else if want := "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED (901): operation failed due to a previous error during capture (" + x.op + " while capturing)"; !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
			// The capture has ended; its work never ran.
			if got := read(t, s, b); !equal(got, []float32{1, 2}) {
				t.Fatalf("after %s %s: %v, want [1 2]", x.name, where, got)
			}
		}
	}

	// record that returns the error of the call: Capture returns it.
	_, err := s.Capture(s.Sync)
	var e *Error
	if !errors.As(err, &e) || e.Code != errorStreamCaptureUnsupported || e.Op != "cuStreamSynchronize" {
		t.Errorf("Capture(s.Sync): %v, want the error of Sync", err)
	}

	// A capture on another stream is invalidated as well, and a capture
	// without such a call is not.
	s2 := must[*Stream](t)(c.NewStream())
	g, err := s.Capture(func() error {
		g2, err := s2.Capture(func() error { return b.Fill(s2, 6) })
		if err != nil || g2 == nil {
			t.Errorf("capture on a second stream: %v", err)
		}
		if err := c.Synchronize(); err == nil {
			t.Error("Synchronize while capturing succeeded")
		}
		return b.Fill(s, 5)
	})
	if !errors.As(err, &e) || e.Code != errorStreamCaptureInvalidated || g != nil {
		t.Errorf("outer capture: %v, %v; want it invalidated", g, err)
	}
	g, err = s.Capture(func() error { return b.Fill(s, 5) })
	if err != nil {
		t.Fatalf("capture after the invalidated ones: %v", err)
	}
	if err := g.Launch(s); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, b); !equal(got, []float32{5, 5}) {
		t.Errorf("replay: %v, want [5 5]", got)
	}
}

// TestGraphSupport: a driver that lacks any of the graph functions gets
// an error, not a call of address 0.
func TestGraphSupport(t *testing.T) {
	all := func() *Driver {
		d := &Driver{version: 11020}
		for _, p := range []*uintptr{&d.fn.cuStreamBeginCapture, &d.fn.cuStreamEndCapture, &d.fn.cuGraphInstantiate,
			&d.fn.cuGraphLaunch, &d.fn.cuGraphExecDestroy, &d.fn.cuGraphDestroy} {
			*p = 1 // never called
		}
		return d
	}
	if err := all().graphSupport(); err != nil {
		t.Fatalf("all graph functions present: %v", err)
	}
	for name, field := range map[string]func(*funcs) *uintptr{
		"cuStreamBeginCapture_v2":     func(f *funcs) *uintptr { return &f.cuStreamBeginCapture },
		"cuStreamEndCapture":          func(f *funcs) *uintptr { return &f.cuStreamEndCapture },
		"cuGraphInstantiateWithFlags": func(f *funcs) *uintptr { return &f.cuGraphInstantiate },
		"cuGraphLaunch":               func(f *funcs) *uintptr { return &f.cuGraphLaunch },
		"cuGraphExecDestroy":          func(f *funcs) *uintptr { return &f.cuGraphExecDestroy },
		"cuGraphDestroy":              func(f *funcs) *uintptr { return &f.cuGraphDestroy },
	} {
		d := all()
		*field(&d.fn) = 0
		err := d.graphSupport()
		var e *Error
		if !errors.As(err, &e) || e.Code != ErrorNotSupported || e.Version != 11020 || !strings.Contains(err.Error(), "CUDA 11.4 driver or newer") {
			t.Errorf("without %s: %v", name, err)
		}
	}
}

// TestCaptureWithoutGraphs: Capture checks for the graph functions before
// it calls the driver. The driver functions Capture would call otherwise
// are libc's getpid, whose non-zero result fails as a CUresult, so that a
// missing check fails the test instead of crashing it.
func TestCaptureWithoutGraphs(t *testing.T) {
	getpid := libcFuncs(t, "getpid")[0]
	for _, missing := range []string{"cuGraphExecDestroy", "cuGraphDestroy"} {
		d := &Driver{version: 12020}
		f := &d.fn
		f.cuCtxSetCurrent, f.cuModuleLoadDataEx = getpid, getpid
		f.cuStreamBeginCapture, f.cuStreamEndCapture, f.cuGraphInstantiate, f.cuGraphLaunch = getpid, getpid, getpid, getpid
		f.cuGraphExecDestroy, f.cuGraphDestroy = getpid, getpid
		if missing == "cuGraphExecDestroy" {
			f.cuGraphExecDestroy = 0
		} else {
			f.cuGraphDestroy = 0
		}
		c := &Context{dev: &Device{}, drv: d}
		s := &Stream{ctx: c, h: 1}
		called := false
		_, err := s.Capture(func() error { called = true; return nil })
		var e *Error
		if !errors.As(err, &e) || e.Code != ErrorNotSupported || e.Op != "cuGraphInstantiateWithFlags" || e.Version != 12020 {
			t.Errorf("Capture without %s: %v, want the error of missing graph functions", missing, err)
		}
		if called {
			t.Errorf("Capture without %s called record", missing)
		}
	}
}

// endCaptureArg is the stream handle of TestCapturePanicEndsCapture: the
// fake cuStreamEndCapture, time(3), writes the time to it.
var endCaptureArg int64

// TestCapturePanicEndsCapture: after a panic of record, Capture ends the
// capture on the driver. The driver's functions are libc's: sched_yield,
// which returns 0 (CUDA_SUCCESS), and, for cuStreamEndCapture, time,
// which writes the time where its first argument, the stream handle,
// points.
func TestCapturePanicEndsCapture(t *testing.T) {
	fs := libcFuncs(t, "sched_yield", "time")
	yield, tm := fs[0], fs[1]
	d := &Driver{}
	f := &d.fn
	f.cuCtxSetCurrent, f.cuStreamBeginCapture, f.cuStreamEndCapture = yield, yield, tm
	f.cuGraphInstantiate, f.cuGraphLaunch, f.cuGraphExecDestroy, f.cuGraphDestroy = yield, yield, yield, yield
	c := &Context{dev: &Device{}, drv: d, kernels: &Kernels{}} // no modules to load
	s := &Stream{ctx: c, h: uintptr(unsafe.Pointer(&endCaptureArg))}
	endCaptureArg = 0
	if r := capturePanic(t, s, func() error { panic("record panics") }); r != "record panics" {
		t.Fatalf("recovered %v, want the panic of record", r)
	}
	if endCaptureArg == 0 {
		t.Error("cuStreamEndCapture was not called after the panic of record")
	}
}

// TestGPUCapturePanic: on a GPU, a panic of record ends the capture, so
// that the legacy stream, the synchronous operations and later captures
// work.
func TestGPUCapturePanic(t *testing.T) {
	c, s := testGPU(t)
	checkCapturePanic(t, c, s)
}

// TestGPUCaptureInvalidated: on a GPU, synchronising the capturing stream
// fails and invalidates the capture, as Capture's documentation says.
func TestGPUCaptureInvalidated(t *testing.T) {
	c, s := testGPU(t)
	b := upload(t, c, []float32{1, 2})
	var syncErr error
	g, err := s.Capture(func() error {
		if err := b.Fill(s, 5); err != nil {
			return err
		}
		syncErr = s.Sync()
		return nil
	})
	if syncErr == nil {
		t.Error("Sync while capturing succeeded")
	}
	var e *Error
	if g != nil || !errors.As(err, &e) || e.Code != errorStreamCaptureInvalidated {
		t.Errorf("Capture: %v, %v; want CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", g, err)
	}
	if got := read(t, s, b); !equal(got, []float32{1, 2}) {
		t.Errorf("after the invalidated capture: %v, want [1 2]", got)
	}
}
