package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/ptx"
	ref "github.com/gokernels/gemm/ptx/ptxtest"
)

// TestSgemmShape checks how products are tiled and split along k: the
// shapes of one MNIST training step on a 132-SM GPU, and the rules on
// random shapes.
func TestSgemmShape(t *testing.T) {
	big, small := ptx.Sgemm, ptx.Sgemm64
	for _, x := range []struct {
		m, n, k, sms, work int
		want               sgemmShape
	}{
		{785, 200, 1500, 132, math.MaxInt, sgemmShape{small, 64, 10, 152}}, // weight gradient: 52 tiles of 64
		{1500, 200, 784, 132, math.MaxInt, sgemmShape{small, 64, 5, 160}},  // forward: 96 tiles
		{31, 10, 1500, 132, math.MaxInt, sgemmShape{small, 64, 16, 96}},    // small weight gradient: maxSplits
		{31, 10, 300, 132, math.MaxInt, sgemmShape{small, 64, 4, 80}},      // about k/64 slices
		{1500, 200, 100, 132, math.MaxInt, sgemmShape{small, 64, 1, 100}},  // k too short
		{4096, 4096, 4096, 132, math.MaxInt, sgemmShape{big, 128, 1, 4096}},
		{1024, 1024, 4096, 32, math.MaxInt, sgemmShape{big, 128, 1, 4096}},         // a tile per SM already
		{785, 200, 1500, 132, 576 + 4*785*200, sgemmShape{small, 64, 4, 376}},      // as many as the workspace holds
		{785, 200, 1500, 132, 576 + 2*785*200 - 1, sgemmShape{small, 64, 1, 1500}}, // not two
		{785, 200, 1500, 1, math.MaxInt, sgemmShape{big, 128, 1, 1500}},            // one SM
		{0, 200, 1500, 132, 0, sgemmShape{big, 128, 1, 1500}},
	} {
		if got := sgemmShapeFor(x.m, x.n, x.k, x.sms, 90, x.work); got != x.want {
			t.Errorf("sgemmShapeFor(%d, %d, %d, %d SMs, %d) = %s/%d/%d/%d; want %s/%d/%d/%d", x.m, x.n, x.k, x.sms, x.work,
				got.kernel.Name, got.tile, got.splits, got.kslice, x.want.kernel.Name, x.want.tile, x.want.splits, x.want.kslice)
		}
	}
	// sm_86 (100 KB of shared memory): three sgemm64 blocks a
	// multiprocessor, as before Ampere; sm_80: four.
	for cc, want := range map[int]int{52: 3, 70: 3, 75: 3, 80: 4, 86: 3, 89: 3, 90: 4, 100: 4} {
		if got := sgemm64PerSM(cc); got != want {
			t.Errorf("sgemm64PerSM(%d) = %d, want %d", cc, got, want)
		}
	}
	// Before Ampere, three sgemm64 blocks fit on a multiprocessor.
	if got, want := sgemmShapeFor(785, 200, 1500, 80, 70, math.MaxInt), (sgemmShape{small, 64, 4, 376}); got != want {
		t.Errorf("sm_70, 80 SMs: %d slices of %d, want %d of %d (52 tiles, 240 blocks)", got.splits, got.kslice, want.splits, want.kslice)
	}
	r := rand.New(rand.NewPCG(3, 3))
	for range 10000 {
		m, n, k, sms, cc := 1+r.IntN(3000), 1+r.IntN(3000), r.IntN(10000), 1+r.IntN(200), 50+r.IntN(50)
		work := r.IntN(20 * m * n)
		sh := sgemmShapeFor(m, n, k, sms, cc, work)
		tiles := func(t int) int { return ((m + t - 1) / t) * ((n + t - 1) / t) }
		slots := sms * sgemmPerSM
		if sh.kernel == ptx.Sgemm64 {
			slots = sms * sgemm64PerSM(cc)
		}
		switch {
		case (sh.kernel == ptx.Sgemm) != (tiles(128) >= sms) || sh.tile != map[*ptx.Kernel]int{big: 128, small: 64}[sh.kernel]:
			t.Fatalf("%d×%d on %d SMs: %s with tile %d", m, n, sms, sh.kernel.Name, sh.tile)
		case sh.splits == 1:
			if sh.kslice != k {
				t.Fatalf("%d×%d×%d: no split with kslice %d", m, n, k, sh.kslice)
			}
		case sh.kslice%8 != 0 || sh.kslice < minKSlice || (sh.splits-1)*sh.kslice >= k || sh.splits*sh.kslice < k:
			t.Fatalf("%d×%d×%d: %d slices of %d do not cover k with none empty", m, n, k, sh.splits, sh.kslice)
		case sh.splits*tiles(sh.tile) > slots || tiles(sh.tile) > sgemmCounters(sms, cc) || sgemmCounters(sms, cc)+sh.splits*sgemmPart(m, n) > work || sh.splits > maxSplits:
			t.Fatalf("%d×%d×%d on %d SMs, work %d: %d slices of %d tiles", m, n, k, sms, work, sh.splits, tiles(sh.tile))
		}
	}
}

// TestSgemmSplitArgs checks the argument positions a split rewrites
// against the kernel's parameter list.
func TestSgemmSplitArgs(t *testing.T) {
	for i, name := range map[int]string{sgemmM: "m", sgemmN: "n", sgemmK: "k",
		sgemmKSlice: "kslice", sgemmW: "w", sgemmCounts: "counts", sgemmAct: "act", sgemmY: "y", sgemmLdy: "ldy"} {
		if got := ptx.Sgemm.Params[i].Name; got != name {
			t.Errorf("sgemm parameter %d is %s, want %s", i, got, name)
		}
	}
}

// TestSimSgemmSplit runs split products, as Sgemm queues them, in the
// simulator (whose blocks run in a different order each launch): every
// transpose pair, beta zero over NaN and not, the partials' part of the
// workspace poisoned with NaN so that an unwritten partial shows, and the
// counters back at 0 after each product.
func TestSimSgemmSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	kernel := ptx.Sgemm64 // fewer 128×128 tiles than SMs
	for _, x := range []sgemmCase{
		{gemm.NoTrans, gemm.NoTrans, 70, 33, 200, 1, 0, 1.5, 0.5},
		{gemm.Trans, gemm.Trans, 33, 70, 199, 0, 0, 1, 0},
		{gemm.NoTrans, gemm.Trans, 130, 5, 300, 4, 0, -1, 1},
		{gemm.Trans, gemm.NoTrans, 9, 140, 257, 3, 0, 2, 0},
	} {
		d := newSimDevice(t)
		ar, ac, br, bc := ref.Stored(x.tA == gemm.Trans, x.tB == gemm.Trans, x.m, x.n, x.k)
		lda, ldb, ldc := max(ac, 1)+x.pad, max(bc, 1)+x.pad, x.n+x.pad
		a, b, c := random(r, ar*lda, 1), random(r, br*ldb, 1), random(r, x.m*ldc, 1)
		if x.beta == 0 {
			for i := range c {
				c[i] = float32(math.NaN())
			}
		}
		dev := &Device{SMs: 16, Major: 9}
		counters := sgemmCounters(dev.SMs, dev.cc())
		w := make([]float32, counters+3*sgemmPart(x.m, x.n)+5)
		for i := range w[counters:] {
			w[counters+i] = float32(math.NaN())
		}
		oa, ob, oc, ow := d.buf(a), d.buf(b), d.buf(c), d.buf(w)
		l := sgemmPlan(sgemmLaunch(x.tA, x.tB, x.m, x.n, x.k, x.alpha, oa, lda, ob, ldb, x.beta, oc, ldc), ow, dev)
		if l.grid.Z != 3 || l.kernel != kernel {
			t.Fatalf("%+v: %s in %d slices, want %s in 3", x, l.kernel.Name, l.grid.Z, kernel.Name)
		}
		d.run(l)
		got := d.read(oc)
		bound := ref.Sgemm(x.tA == gemm.Trans, x.tB == gemm.Trans, x.m, x.n, x.k, x.alpha, a, lda, b, ldb, x.beta, c, ldc)
		for i := range got {
			if !ref.Close(got[i], c[i], bound[i], 0) {
				t.Fatalf("%+v: C[%d] = %v, want %v", x, i, got[i], c[i])
			}
		}
		ws := d.read(ow)
		if tail := ws[counters+3*sgemmPart(x.m, x.n):]; !math.IsNaN(float64(tail[0])) {
			t.Fatalf("%+v: wrote past the partials", x)
		}
		for i, v := range ws[:counters] {
			if v != 0 {
				t.Fatalf("%+v: counter %d is %#x after the product, want 0", x, i, math.Float32bits(v))
			}
		}
	}
}

// TestSimContextSgemmWorkspace runs Sgemm with and without a workspace on
// the simulated device (8 SMs): the split product matches the reference,
// and the same product split twice gives the same bits.
func TestSimContextSgemmWorkspace(t *testing.T) {
	c, s := simStream(t)
	r := rand.New(rand.NewPCG(5, 6))
	m, n, k := 40, 30, 300
	a, b, cc := random(r, k*m, 1), random(r, k*n, 1), random(r, m*n, 1)
	da, db := upload(t, c, a), upload(t, c, b)
	counters := sgemmCounters(c.Device().SMs, c.Device().cc())
	want := SgemmWorkspace(c.Device(), m, n, k)
	if want != counters+4*sgemmPart(m, n) {
		t.Fatalf("SgemmWorkspace = %d, want %d (%d counters, 4 slices)", want, counters+4*sgemmPart(m, n), counters)
	}
	if got := SgemmWorkspace(c.Device(), 300, 300, 300); got != 0 {
		t.Errorf("SgemmWorkspace for 9 tiles on 8 SMs = %d, want 0", got)
	}
	// NaN everywhere: SetWorkspace clears the counters.
	w := nanWorkspace(t, c, s, want)
	if s.Workspace() != w {
		t.Fatal("Workspace does not return the workspace set")
	}
	wantC := append([]float32(nil), cc...)
	bound := ref.Sgemm(true, false, m, n, k, 1, a, m, b, n, 0.5, wantC, n)
	var prev []float32
	for range 2 {
		dc := upload(t, c, cc)
		if err := Sgemm(s, gemm.Trans, gemm.NoTrans, m, n, k, 1, da, m, db, n, 0.5, dc, n); err != nil {
			t.Fatal(err)
		}
		got := read(t, s, dc)
		for i := range got {
			if !ref.Close(got[i], wantC[i], bound[i], 0) {
				t.Fatalf("C[%d] = %v, want %v", i, got[i], wantC[i])
			}
		}
		if prev != nil && !equal(prev, got) {
			t.Fatal("the same split product gave different bits")
		}
		prev = got
	}
	for i, v := range read(t, s, w)[:counters] {
		if v != 0 {
			t.Fatalf("counter %d is %#x after the products, want 0", i, math.Float32bits(v))
		}
	}
	mustPanic(t, "cuda: SetWorkspace while the stream captures a graph; set the workspace before Stream.Capture", func() {
		s.Capture(func() error { return s.SetWorkspace(w) })
	})
	// Also after a failed Capture of the same stream inside record.
	mustPanic(t, "cuda: SetWorkspace while the stream captures a graph; set the workspace before Stream.Capture", func() {
		s.Capture(func() error {
			if _, err := s.Capture(func() error { return nil }); err == nil {
				t.Error("a Capture inside a Capture of the same stream succeeded")
			}
			return s.SetWorkspace(w)
		})
	})
	s.SetWorkspace(nil)
	if s.Workspace() != nil {
		t.Fatal("SetWorkspace(nil) kept the workspace")
	}
	w2 := must[*Buffer[float32]](t)(Alloc[float32](c, 1))
	if err := s.SetWorkspace(w2); err != nil {
		t.Fatal(err)
	}
	w2.Free()
	dc := upload(t, c, cc)
	mustPanic(t, "cuda: Sgemm (the stream's workspace) on a freed buffer", func() {
		Sgemm(s, gemm.Trans, gemm.NoTrans, m, n, k, 1, da, m, db, n, 0.5, dc, n)
	})
	mustPanic(t, "cuda: SetWorkspace on a freed buffer", func() { s.SetWorkspace(w2) })
	c2, _ := simStream(t)
	w3 := must[*Buffer[float32]](t)(Alloc[float32](c2, 1))
	mustPanic(t, "cuda: SetWorkspace: buffer or function of another context than the stream's", func() { s.SetWorkspace(w3) })
}
