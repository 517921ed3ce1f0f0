package cuda

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/internal/fakecuda"
	"github.com/gokernels/gemm/ptx"
)

// The tests of this file load the fake driver library of package
// fakecuda in place of libcuda.so.1: the binding's calls go through the C
// ABI, into C functions with cuda.h's prototypes and enum values, and the
// kernels run in the PTX simulator. With CUDA_TEST_FAKE set, the GPU tests
// of this package (TestGPU*) run on the fake driver too (device
// CUDA_TEST_DEVICE: 0 has compute capability 9.0, 1 has 5.2), with their
// largest products left out.

// fakeMode reports whether the GPU tests run on the fake driver.
var fakeMode = os.Getenv("CUDA_TEST_FAKE") != ""

// fakeDriver loads the fake driver library, or skips the test without a
// C compiler to build it.
func fakeDriver(tb testing.TB) *Driver {
	tb.Helper()
	path, err := fakecuda.Library()
	if errors.Is(err, fakecuda.ErrNoCompiler) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	d, err := LoadLibrary(path)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// openFake returns a context on device ordinal of the fake driver.
func openFake(ordinal int) (*Context, error) {
	path, err := fakecuda.Library()
	if err != nil {
		return nil, err
	}
	d, err := LoadLibrary(path)
	if err != nil {
		return nil, err
	}
	return d.Open(ordinal)
}

// skipLarge skips a GPU test's case of about flops floating-point
// operations on the fake driver, whose simulator runs some millions of
// instructions a second.
func skipLarge(t *testing.T, flops int) {
	if fakeMode && flops > 1<<23 {
		t.Skipf("%d flops: too many for the simulator of the fake driver", flops)
	}
}

// TestFakeDevices checks the devices' properties, which the binding reads
// with cuda.h's attribute numbers, against the fake driver's.
func TestFakeDevices(t *testing.T) {
	d := fakeDriver(t)
	if n, err := d.DeviceCount(); n != 2 || err != nil {
		t.Fatalf("DeviceCount = %d, %v", n, err)
	}
	if d.Version() != 12040 {
		t.Errorf("Version = %d, want 12040", d.Version())
	}
	devs, err := d.Devices()
	if err != nil {
		t.Fatal(err)
	}
	want := []Device{
		{Name: "Fake GPU sm_90", Major: 9, Minor: 0, SMs: 8, TotalMemory: 1 << 30, PCIBusID: 0x19,
			MaxThreadsPerBlock: 1024, MaxSharedPerBlock: 48 << 10, MaxSharedPerBlockOptin: 227 << 10, WarpSize: 32,
			ClockKHz: 1980000, MemoryClockKHz: 2619000, MemoryBusWidth: 5120, L2CacheBytes: 50 << 20},
		{Name: "Fake GPU sm_52", Major: 5, Minor: 2, SMs: 2, TotalMemory: 256 << 20, PCIBusID: 0x3b,
			MaxThreadsPerBlock: 1024, MaxSharedPerBlock: 48 << 10, MaxSharedPerBlockOptin: 48 << 10, WarpSize: 32,
			ClockKHz: 1100000, MemoryClockKHz: 3500000, MemoryBusWidth: 256, L2CacheBytes: 2 << 20},
	}
	for i, dev := range devs {
		got := *dev
		got.drv, got.handle, got.Ordinal = nil, 0, 0
		if got != want[i] {
			t.Errorf("device %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
	if _, err := d.Device(2); err == nil {
		t.Error("device 2 of 2 opened")
	}
}

// TestFakeDriver runs a little of everything on both fake devices, so
// that the binding's paths past cuInit run in every test run: kernels
// (the sm80/ forms on device 0, the portable ones on device 1), split
// products, copies, events, graphs, errors of the JIT and of capture, and
// that closing the last context frees everything.
func TestFakeDriver(t *testing.T) {
	d := fakeDriver(t)
	for ordinal := range 2 {
		dev := must[*Device](t)(d.Device(ordinal))
		t.Run(dev.Name, func(t *testing.T) {
			// Another user of the primary context (as another library
			// would be) keeps it alive: Close must free what c holds.
			holder := must[*Context](t)(dev.NewContext())
			defer holder.Close()
			before := fakecuda.ReadStats()
			c := must[*Context](t)(dev.NewContext())
			// In a subtest, so that the buffers' cleanups run before Close.
			t.Run("work", func(t *testing.T) { fakeWork(t, c) })
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if after := fakecuda.ReadStats(); after != before {
				t.Errorf("the driver holds more after Close:\nbefore %+v\n after %+v", before, after)
			}
		})
	}
}

// testCapture captures a product, replays it, times the replays with
// events, and checks that a synchronous copy during a capture fails the
// capture and leaves the stream usable.
func testCapture(t *testing.T, c *Context, s *Stream) {
	t.Helper()
	x := upload(t, c, []float32{1, 2, 3, 4, 5, 6})
	scale := func() error { return Sgemm(s, gemm.NoTrans, gemm.NoTrans, 2, 3, 0, 1, nil, 1, nil, 3, 2, x, 3) } // x *= 2
	g, err := s.Capture(scale)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, x); got[5] != 6 {
		t.Fatalf("capture ran the work: %v", got)
	}
	start, end := must[*Event](t)(c.NewEvent()), must[*Event](t)(c.NewEvent())
	for _, f := range []func() error{
		func() error { return start.Record(s) },
		func() error { return g.Launch(s) },
		func() error { return g.Launch(s) },
		func() error { return end.Record(s) },
		end.Sync,
		g.Destroy, // twice: the second does nothing
		g.Destroy,
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	if el, err := Elapsed(start, end); err != nil || el <= 0 || el > time.Minute {
		t.Errorf("Elapsed = %v, %v", el, err)
	}
	start.Destroy()
	end.Destroy()
	if got := read(t, s, x); got[0] != 4 || got[5] != 24 {
		t.Fatalf("after two replays: %v", got)
	}

	// The capture is thread-local: record runs on the thread that began it,
	// however long it blocks (a goroutine that blocks and wakes moves
	// between threads within a few tries otherwise), and the capture ends
	// there; an allocation on another thread does not disturb it (in the
	// driver's global mode it would).
	g, err = s.Capture(func() error {
		done := make(chan error)
		go func() {
			b, err := Alloc[float32](c, 1)
			if err == nil {
				err = b.Free()
			}
			done <- err
		}()
		if err := <-done; err != nil {
			return fmt.Errorf("Alloc on another thread: %v", err)
		}
		tid := threadID()
		for range 50 {
			ch := make(chan struct{})
			go func() { time.Sleep(20 * time.Microsecond); close(ch) }()
			<-ch
			if threadID() != tid {
				return errors.New("record moved to another OS thread")
			}
		}
		return scale()
	})
	if err != nil {
		t.Fatal(err)
	}
	g.Destroy()

	// A synchronous copy (on the legacy stream, which a capturing blocking
	// stream makes unusable) in record, or from another goroutine, fails
	// and invalidates the capture.
	for i, other := range []bool{false, true} {
		var copyErr error
		_, err = s.Capture(func() error {
			if err := scale(); err != nil {
				return err
			}
			copyHost := func() { copyErr = x.CopyFromHost([]float32{9, 9, 9, 9, 9, 9}) }
			if other {
				done := make(chan struct{})
				go func() { copyHost(); close(done) }()
				<-done
			} else {
				copyHost()
			}
			return nil
		})
		var e *Error
		if !errors.As(err, &e) || e.Code != errorStreamCaptureInvalidated || copyErr == nil {
			t.Fatalf("capture with a synchronous copy (from another goroutine: %v): %v; the copy: %v", other, err, copyErr)
		}
		if err := scale(); err != nil {
			t.Fatal(err)
		}
		if got := read(t, s, x); got[0] != float32(int(8)<<i) {
			t.Fatalf("after a failed capture: %v (the copy ran, or the product did not)", got)
		}
	}

	// Queued work runs when waited for: a download read before then is
	// stale (the fake's page-locked memory starts as NaNs).
	h := must[*HostBuffer[float32]](t)(AllocHost[float32](c, x.Len()))
	defer h.Free()
	if err := x.Download(s, h); err != nil {
		t.Fatal(err)
	}
	if v := h.Data()[0]; v == v {
		t.Errorf("a download read before Sync gave %v: the fake driver ran it when queued", v)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if v := h.Data()[0]; v != 16 {
		t.Errorf("a download read after Sync gave %v, want 16", v)
	}

	// Queued work: the fake driver reports it as running at the first
	// query, and as finished at the next, or once waited for.
	ev := must[*Event](t)(c.NewEvent())
	defer ev.Destroy()
	for _, f := range []func() error{scale, func() error { return ev.Record(s) }} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []bool{false, true} {
		if done, err := ev.Done(); done != want || err != nil {
			t.Errorf("Event.Done, query %d: %v, %v; want %v", i+1, done, err, want)
		}
	}
	if done, err := s.Done(); !done || err != nil {
		t.Errorf("Stream.Done after its last event finished: %v, %v", done, err)
	}
	if err := scale(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, true} {
		if done, err := s.Done(); done != want || err != nil {
			t.Errorf("Stream.Done, query %d: %v, %v; want %v", i+1, done, err, want)
		}
	}
}

// fakeWork is TestFakeDriver's work on context c.
func fakeWork(t *testing.T, c *Context) {
	dev := c.Device()
	s := must[*Stream](t)(c.NewStream())
	ks := must[*Kernels](t)(c.Kernels())
	if !strings.Contains(ks.InfoLog(), "ptxas info") {
		t.Errorf("no JIT information log: %q", ks.InfoLog())
	}
	// The fake driver's answers for every function.
	f := ks.Function(ptx.Sgemm)
	want := FuncAttributes{MaxThreadsPerBlock: 1024, Registers: 40, PTXVersion: 70, BinaryVersion: dev.cc()}
	if a, err := f.Attributes(); err != nil || a != want {
		t.Errorf("Attributes = %+v, %v; want %+v", a, err, want)
	}
	// 64 KiB of dynamic shared memory: allowed where the opt-in maximum is
	// above 48 KiB.
	if err := f.SetMaxDynamicShared(64 << 10); (err == nil) != (dev.MaxSharedPerBlockOptin >= 64<<10) {
		t.Errorf("SetMaxDynamicShared(64 KiB) with an opt-in maximum of %d bytes: %v", dev.MaxSharedPerBlockOptin, err)
	}
	for _, x := range []sgemmCase{
		{gemm.NoTrans, gemm.NoTrans, 7, 9, 13, 0, 0, 1.5, 0},
		{gemm.NoTrans, gemm.NoTrans, 130, 70, 3, 0, 0, 1, 0}, // a grid of 3×2 blocks or more
		{gemm.Trans, gemm.Trans, 33, 17, 5, 1, 1, 1, -0.5},
		{gemm.NoTrans, gemm.Trans, 5, 6, 0, 0, 0, 1, 3},
	} {
		runSgemmCase(t, c, s, x)
	}
	// A product split along k, into a NaN-filled workspace.
	m, n, k := 20, 12, 700
	w := nanWorkspace(t, c, s, SgemmWorkspace(dev, m, n, k))
	if sh := sgemmShapeFor(m, n, k, dev.SMs, dev.cc(), w.Len()); sh.splits < 2 {
		t.Fatalf("%d×%d×%d does not split: %+v", m, n, k, sh)
	}
	runSgemmCase(t, c, s, sgemmCase{gemm.Trans, gemm.NoTrans, m, n, k, 0, 0, 1, 0})

	testCapture(t, c, s)

	// A byte buffer fills through cuMemsetD8Async.
	u := must[*Buffer[uint8]](t)(Alloc[uint8](c, 5))
	defer u.Free()
	if err := u.Fill(s, 7); err != nil {
		t.Fatal(err)
	}
	if got := must[[]uint8](t)(u.Read()); string(got) != "\x07\x07\x07\x07\x07" {
		t.Errorf("Fill(7) of 5 bytes: %v", got)
	}

	if _, err := c.LoadModule("bad.ptx", ".version 7.0\n.target sm_52\n.address_size 64\n.visible .entry k()\n{\n\tbogus.op %r1;\n\tret;\n}\n"); !errors.Is(err, ErrInvalidPTX) {
		t.Errorf("invalid PTX: %v", err)
	} else if e := err.(*Error); e.Log == "" {
		t.Errorf("invalid PTX without the JIT's log: %v", err)
	}
	if _, err := c.LoadModule("new.ptx", ".version 8.5\n.target sm_52\n.address_size 64\n"); !errors.Is(err, ErrPTXVersion) {
		t.Errorf("PTX 8.5 on a 12.4 driver: %v", err)
	}

	if err := s.SetWorkspace(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(); err != nil {
		t.Fatal(err)
	}
}
