package cuda

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gokernels/gemm"
	ref "github.com/gokernels/gemm/ptx/ptxtest"
)

// The tests of this file run the public API on the simulated device of
// NewSimContext.

func simStream(t *testing.T) (*Context, *Stream) {
	t.Helper()
	c := NewSimContext()
	s, err := c.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func TestSimContextBuffers(t *testing.T) {
	c, s := simStream(t)
	if c.Device().Name != "PTX simulator" {
		t.Errorf("device %v", c.Device())
	}
	b := must[*Buffer[float32]](t)(Upload(c, []float32{1, 2, 3, 4, 5}))
	if got := read(t, s, b); !equal(got, []float32{1, 2, 3, 4, 5}) {
		t.Errorf("Upload/Read: %v", got)
	}
	if err := b.Slice(1, 3).Fill(s, -1); err != nil {
		t.Fatal(err)
	}
	if err := b.Slice(3, 5).CopyFrom(s, b.Slice(0, 2)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, b); !equal(got, []float32{1, -1, -1, 1, -1}) {
		t.Errorf("Fill and CopyFrom: %v", got)
	}
	u := must[*Buffer[uint32]](t)(Alloc[uint32](c, 3))
	if err := u.Fill(s, 0xdeadbeef); err != nil {
		t.Fatal(err)
	}
	if got, err := u.Read(); err != nil || got[0] != 0xdeadbeef || got[2] != 0xdeadbeef {
		t.Errorf("uint32 Fill: %x, %v", got, err)
	}
	if err := b.Free(); err != nil {
		t.Fatal(err)
	}
	if _, used, _ := c.Budget(); used != 12 {
		t.Errorf("budget in use %d after freeing, want 12", used)
	}
	c.SetBudget(16)
	if _, err := Alloc[float32](c, 2); !errors.Is(err, ErrOutOfMemory) {
		t.Errorf("allocation over the budget: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

func TestSimContextSgemm(t *testing.T) {
	c, s := simStream(t)
	r := rand.New(rand.NewPCG(1, 2))
	m, n, k := 9, 7, 13
	a, b, cc := random(r, m*k, 1), random(r, n*k, 1), random(r, m*n, 1)
	da, db, dc := upload(t, c, a), upload(t, c, b), upload(t, c, cc)
	if err := Sgemm(s, gemm.NoTrans, gemm.Trans, m, n, k, 1.5, da, k, db, k, 0.5, dc, n); err != nil {
		t.Fatal(err)
	}
	bound := ref.Sgemm(false, true, m, n, k, 1.5, a, k, b, k, 0.5, cc, n)
	got := read(t, s, dc)
	for i := range got {
		if !ref.Close(got[i], cc[i], bound[i], 0) {
			t.Fatalf("C[%d] = %v, want %v", i, got[i], cc[i])
		}
	}
}

func TestSimContextGraph(t *testing.T) {
	c, s := simStream(t)
	const n = 300
	w := upload(t, c, make([]float32, n))
	g := upload(t, c, make([]float32, n))
	m := upload(t, c, make([]float32, n))
	v := upload(t, c, make([]float32, n))
	state := upload(t, c, []float32{1, 1, 0})
	if err := g.Fill(s, 1); err != nil {
		t.Fatal(err)
	}
	// Not allowed while capturing, and invalidates the capture (see also
	// TestSimCaptureInvalidated).
	_, err := s.Capture(func() error {
		if _, err := Alloc[float32](c, 1); err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED") {
			t.Errorf("Alloc while capturing: %v", err)
		}
		if err := w.CopyFromHost(make([]float32, n)); err == nil {
			t.Error("CopyFromHost while capturing succeeded")
		}
		if err := s.Sync(); err == nil {
			t.Error("Sync while capturing succeeded")
		}
		return Adam(s, w, g, m, v, state, 0.01, 0.9, 0.999, 1e-7)
	})
	if err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED") {
		t.Errorf("capture with calls not allowed while capturing: %v", err)
	}
	step, err := s.Capture(func() error {
		return Adam(s, w, g, m, v, state, 0.01, 0.9, 0.999, 1e-7)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, w); got[0] != 0 {
		t.Fatalf("capturing ran the work: w[0] = %v", got[0])
	}
	wr, gr, mr, vr, sr := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), []float32{1, 1, 0}
	for i := range gr {
		gr[i] = 1
	}
	for range 3 {
		if err := step.Launch(s); err != nil {
			t.Fatal(err)
		}
		ref.AdamStep(sr, 0.01, 0.9, 0.999)
		ref.Adam(wr, gr, mr, vr, sr, 0.9, 0.999, 1e-7)
	}
	ref.Compare(t, "w after 3 replays", read(t, s, w), wr, 0, 0)
	ref.Compare(t, "state after 3 replays", read(t, s, state), sr, 0, 0)
	if err := step.Destroy(); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "cuda: Graph.Launch of a destroyed graph", func() { step.Launch(s) })
	if _, err := Alloc[float32](c, 1); err != nil {
		t.Errorf("Alloc after the capture: %v", err)
	}
}

func TestSimContextUnsupported(t *testing.T) {
	c, s := simStream(t)
	for name, f := range map[string]func() error{
		"LoadModule": func() error { _, err := c.LoadModule("x.ptx", ".version 7.0"); return err },
		"NewEvent":   func() error { _, err := c.NewEvent(); return err },
		"MemInfo":    func() error { _, _, err := c.MemInfo(); return err },
		"AllocHost":  func() error { _, err := AllocHost[float32](c, 4); return err },
		"Kernels":    func() error { _, err := c.Kernels(); return err },
	} {
		err := f()
		var e *Error
		if !errors.As(err, &e) || e.Code != ErrorNotSupported || !strings.Contains(err.Error(), "simulated device") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := s.Destroy(); err != nil {
		t.Error(err)
	}
	mustPanic(t, "cuda: Device.NewContext on the simulated device of NewSimContext", func() { c.Device().NewContext() })
}

// TestSimContextBytes checks buffers of bytes (sizes, views, copies, Fill
// with cuMemsetD8Async's semantics, the budget in bytes) and
// GatherRowsBytes on the simulated device.
func TestSimContextBytes(t *testing.T) {
	c, s := simStream(t)
	src := make([]byte, 30)
	for i := range src {
		src[i] = byte(250 + i) // wraps: 250 … 255, 0 … 23
	}
	b := must[*Buffer[uint8]](t)(Upload(c, src))
	if _, used, _ := c.Budget(); used != 30 {
		t.Errorf("budget in use %d, want 30 bytes", used)
	}
	if err := b.Slice(3, 5).Fill(s, 7); err != nil {
		t.Fatal(err)
	}
	if err := b.Slice(10, 12).CopyFrom(s, b.Slice(0, 2)); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), src...)
	want[3], want[4], want[10], want[11] = 7, 7, 250, 251
	got, err := b.Read()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("bytes %v, want %v", got, want)
	}
	// Rows 2, 0 and 4 of the 6×5 bytes, divided by 255.
	idx := must[*Buffer[uint32]](t)(Upload(c, []uint32{2, 0, 4}))
	dst := must[*Buffer[float32]](t)(Alloc[float32](c, 3*6))
	if err := dst.Fill(s, -1); err != nil {
		t.Fatal(err)
	}
	if err := GatherRowsBytes(s, dst, 6, b, 5, 6, idx, 3, 5, 255); err != nil {
		t.Fatal(err)
	}
	d := read(t, s, dst)
	for i, row := range []int{2, 0, 4} {
		for j := range 6 {
			w := float32(-1)
			if j < 5 {
				w = float32(want[row*5+j]) / 255
			}
			if d[i*6+j] != w {
				t.Fatalf("dst[%d, %d] = %v, want %v", i, j, d[i*6+j], w)
			}
		}
	}
	// A negative divisor, as Dataset.XDivisor allows.
	if err := GatherRowsBytes(s, dst, 6, b, 5, 6, idx, 3, 5, -2.5); err != nil {
		t.Fatal(err)
	}
	if d := read(t, s, dst); d[0] != float32(want[10])/-2.5 {
		t.Errorf("dst[0] = %v with div -2.5, want %v", d[0], float32(want[10])/-2.5)
	}
	mustPanic(t, "cuda: Buffer.Free of a view; free the buffer Alloc returned", func() { b.Slice(0, 29).Free() })
	if err := b.Free(); err != nil {
		t.Fatal(err)
	}
}
