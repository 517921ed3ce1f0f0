package cuda

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/ptx"
	ref "github.com/gokernels/gemm/ptx/ptxtest"
)

// The tests of this file need a GPU and skip without one. They run every
// kernel on random inputs and compare with the references of package
// ptxtest. CUDA_TEST_DEVICE selects the device (default 0); with
// CUDA_TEST_FAKE set they run on the fake driver (see fake_test.go).

var gpu struct {
	once sync.Once
	ctx  *Context
	err  error
}

// testGPU returns the shared test context and a new stream, or skips.
func testGPU(tb testing.TB) (*Context, *Stream) {
	tb.Helper()
	gpu.once.Do(func() {
		ordinal := 0
		if s := os.Getenv("CUDA_TEST_DEVICE"); s != "" {
			ordinal, _ = strconv.Atoi(s)
		}
		if fakeMode {
			gpu.ctx, gpu.err = openFake(ordinal)
		} else {
			gpu.ctx, gpu.err = Open(ordinal)
		}
	})
	switch err := gpu.err; {
	case errors.Is(err, ErrNoDriver):
		tb.Skipf("no CUDA driver: %v", err)
	case errors.Is(err, ErrNoDevice):
		tb.Skipf("no CUDA device: %v", err)
	case err != nil:
		tb.Fatal(err)
	}
	s, err := gpu.ctx.NewStream()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Destroy() })
	return gpu.ctx, s
}

func must[T any](tb testing.TB) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

func upload(tb testing.TB, c *Context, v []float32) *Buffer[float32] {
	tb.Helper()
	b, err := Upload(c, v)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Free() })
	return b
}

// nanWorkspace allocates a workspace of n NaNs (so that a partial product
// left unwritten shows) and sets it on s; it is freed when the test ends.
func nanWorkspace(tb testing.TB, c *Context, s *Stream, n int) *Buffer[float32] {
	tb.Helper()
	w, err := Alloc[float32](c, n)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.Free() })
	if err := w.Fill(s, float32(math.NaN())); err != nil {
		tb.Fatal(err)
	}
	if err := s.SetWorkspace(w); err != nil {
		tb.Fatal(err)
	}
	return w
}

func read(tb testing.TB, s *Stream, b *Buffer[float32]) []float32 {
	tb.Helper()
	if err := s.Sync(); err != nil {
		tb.Fatal(err)
	}
	v, err := b.Read()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func random(r *rand.Rand, n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = (r.Float32()*2 - 1) * scale
	}
	return v
}

func TestGPUDevice(t *testing.T) {
	c, _ := testGPU(t)
	dev := c.Device()
	t.Logf("driver CUDA %s, device %v, cc %d.%d, %d SMs, %d MiB", VersionString(dev.Driver().Version()), dev, dev.Major, dev.Minor, dev.SMs, dev.TotalMemory>>20)
	if dev.Name == "" || dev.SMs <= 0 || dev.TotalMemory <= 0 || dev.Major < 5 || dev.WarpSize != 32 {
		t.Errorf("implausible device: %+v", dev)
	}
	free, total, err := c.MemInfo()
	if err != nil || free <= 0 || total < free {
		t.Errorf("MemInfo = %d, %d, %v", free, total, err)
	}
	ks, err := c.Kernels()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(ks.InfoLog())
	for _, k := range ptx.Kernels() {
		a, err := ks.Function(k).Attributes()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-14s %3d registers, %5d B shared, %d B local, max %d threads, PTX %d, sm_%d", k.Name, a.Registers, a.SharedBytes, a.LocalBytes, a.MaxThreadsPerBlock, a.PTXVersion, a.BinaryVersion)
		if a.LocalBytes > 0 {
			t.Logf("%s spills %d bytes per thread to local memory", k.Name, a.LocalBytes)
		}
		if k == ptx.Sgemm && a.MaxThreadsPerBlock < ptx.SgemmThreads {
			t.Errorf("sgemm can run only %d threads per block", a.MaxThreadsPerBlock)
		}
	}
}

type sgemmCase struct {
	tA, tB      gemm.Transpose
	m, n, k     int
	pad, off    int // added to each leading dimension; elements before each matrix
	alpha, beta float32
}

func TestGPUSgemm(t *testing.T) {
	c, s := testGPU(t)
	var cases []sgemmCase
	for _, tA := range []gemm.Transpose{gemm.NoTrans, gemm.Trans} {
		for _, tB := range []gemm.Transpose{gemm.NoTrans, gemm.Trans} {
			cases = append(cases,
				sgemmCase{tA, tB, 1, 1, 1, 0, 0, 1, 0},
				sgemmCase{tA, tB, 7, 9, 13, 0, 0, 1.5, 0},
				sgemmCase{tA, tB, 129, 257, 33, 1, 0, 1, -0.5},
				sgemmCase{tA, tB, 128, 128, 128, 0, 0, 1, 0},
				sgemmCase{tA, tB, 300, 200, 100, 4, 1, -2, 1},
				sgemmCase{tA, tB, 1000, 100, 784, 0, 0, 1, 0},
				sgemmCase{tA, tB, 64, 10, 1500, 3, 2, 1, 1},
			)
		}
	}
	cases = append(cases,
		sgemmCase{gemm.NoTrans, gemm.NoTrans, 5, 6, 0, 0, 0, 1, 3},      // k == 0: C = beta·C
		sgemmCase{gemm.NoTrans, gemm.NoTrans, 5, 6, 7, 0, 0, 0, 0},      // alpha == 0, beta == 0: zeros over NaN
		sgemmCase{gemm.NoTrans, gemm.NoTrans, 0, 6, 7, 0, 0, 1, 0},      // empty
		sgemmCase{gemm.Trans, gemm.NoTrans, 2000, 784, 100, 0, 0, 1, 0}, // an MLP weight gradient
	)
	name := func(x sgemmCase) string {
		return fmt.Sprintf("%v%v/m=%d/n=%d/k=%d/pad=%d/off=%d/alpha=%g/beta=%g", x.tA, x.tB, x.m, x.n, x.k, x.pad, x.off, x.alpha, x.beta)
	}
	for _, x := range cases {
		t.Run(name(x), func(t *testing.T) { runSgemmCase(t, c, s, x) })
	}

	// Again with a workspace, NaN-filled so that a partial product left
	// unwritten shows: the products with few tiles and a long k are split.
	need, split := 0, 0
	for _, x := range cases {
		if w := SgemmWorkspace(c.Device(), x.m, x.n, x.k); w > 0 {
			need, split = max(need, w), split+1
		}
	}
	t.Logf("%d of %d products split on %d SMs; workspace %d floats", split, len(cases), c.Device().SMs, need)
	if split == 0 {
		t.Fatal("no product splits")
	}
	nanWorkspace(t, c, s, need)
	defer s.SetWorkspace(nil)
	for _, x := range cases {
		t.Run("workspace/"+name(x), func(t *testing.T) { runSgemmCase(t, c, s, x) })
	}

	// A split product gives the same bits every time.
	r := rand.New(rand.NewPCG(7, 7))
	m, n, k := 785, 200, 1500
	if fakeMode {
		m, n, k = 65, 20, 1500
	}
	da, db := upload(t, c, random(r, k*m, 1)), upload(t, c, random(r, k*n, 1))
	dc := must[*Buffer[float32]](t)(Alloc[float32](c, m*n))
	defer dc.Free()
	var first []float32
	for range 3 {
		if err := Sgemm(s, gemm.Trans, gemm.NoTrans, m, n, k, 1, da, m, db, n, 0, dc, n); err != nil {
			t.Fatal(err)
		}
		got := read(t, s, dc)
		if first == nil {
			first = got
		} else if !equal(first, got) {
			t.Fatal("a split product gave different bits on a second run")
		}
	}
}

// TestGPUSgemmRepeat runs products many times each, in every form the
// device loads, against the reference: products split along k whose
// slices' partials would share 16 bytes of the workspace without the
// rounding of sgemmPart (m odd, n = 10: on an H200 the first floats of
// W_z were lost in 10 to 95% of launches), and unsplit products whose
// tiles share 16 bytes of C across a column boundary (n not a multiple
// of 4). Races between blocks show only in some launches.
func TestGPUSgemmRepeat(t *testing.T) {
	c, s := testGPU(t)
	ks := must[*Kernels](t)(c.Kernels())
	runs := 100
	if fakeMode {
		runs = 2
	}
	N, T := gemm.NoTrans, gemm.Trans
	for _, x := range []struct {
		sh    benchShape
		split bool // split in 2 and 4 slices; else unsplit, both tiles
	}{
		{benchShape{"TN/49x10x128", T, N, 49, 10, 128}, true},
		{benchShape{"NN/17x10x128", N, N, 17, 10, 128}, true},
		{benchShape{"NT/49x10x300", N, T, 49, 10, 300}, true},
		{benchShape{"TT/33x6x200", T, T, 33, 6, 200}, true},
		{benchShape{"NN/130x66x40", N, N, 130, 66, 40}, false},
		{benchShape{"TN/70x131x24", T, N, 70, 131, 24}, false},
	} {
		sh := x.sh
		r := rand.New(rand.NewPCG(5, 5))
		tA, tB := sh.tA == gemm.Trans, sh.tB == gemm.Trans
		_, lda, _, ldb := ref.Stored(tA, tB, sh.m, sh.n, sh.k)
		ha, hb := random(r, sh.m*sh.k, 1), random(r, sh.k*sh.n, 1)
		da, db := upload(t, c, ha), upload(t, c, hb)
		dc := upload(t, c, make([]float32, sh.m*sh.n))
		want := make([]float32, sh.m*sh.n)
		bound := ref.Sgemm(tA, tB, sh.m, sh.n, sh.k, 1, ha, lda, hb, ldb, 0, want, sh.n)
		counters := sgemmCounters(c.Device().SMs, c.Device().cc())
		w := upload(t, c, make([]float32, counters+4*sgemmPart(sh.m, sh.n)))
		shapes := []sgemmShape{forcedShape(ptx.Sgemm64, 1, sh.k), forcedShape(ptx.Sgemm, 1, sh.k)}
		if x.split {
			shapes = []sgemmShape{forcedShape(ptx.Sgemm64, 2, sh.k), forcedShape(ptx.Sgemm64, 4, sh.k), forcedShape(ptx.Sgemm, 2, sh.k)}
		}
		for _, v := range shapes {
			l := sgemmLaunch(sh.tA, sh.tB, sh.m, sh.n, sh.k, 1, opnd("", da), lda, opnd("", db), ldb, 0, opnd("", dc), sh.n)
			l = sgemmShaped(l, v, opnd("", w), counters)
			for _, form := range kernelForms(ks, l.kernel) {
				f := form.f
				bad, first := 0, ""
				for range runs {
					if err := dc.Fill(s, float32(math.NaN())); err != nil {
						t.Fatal(err)
					}
					if err := s.Launch(f, l.grid, l.block, 0, l.args...); err != nil {
						t.Fatal(err)
					}
					got := must[[]float32](t)(dc.Read())
					for i, g := range got {
						if !ref.Close(g, want[i], bound[i], 0) {
							if bad == 0 {
								first = fmt.Sprintf("C(%d,%d) = %v, want %v", i/sh.n, i%sh.n, g, want[i])
							}
							bad++
							break
						}
					}
				}
				if bad > 0 {
					t.Errorf("%s, %s form, %s in %d slices of %d: wrong in %d of %d launches; first: %s",
						sh.name, form.name, v.kernel.Name, v.splits, v.kslice, bad, runs, first)
				}
			}
		}
	}
}

// forcedShape returns the shape that runs a product with kernel in up to
// splits slices of k.
func forcedShape(kernel *ptx.Kernel, splits, k int) sgemmShape {
	sh := sgemmShape{kernel, map[*ptx.Kernel]int{ptx.Sgemm: ptx.SgemmTile, ptx.Sgemm64: ptx.Sgemm64Tile}[kernel], 1, k}
	if splits > 1 {
		sh.kslice, sh.splits = sgemmSlices(k, splits)
	}
	return sh
}

// kernelForm is a loaded form of a kernel.
type kernelForm struct {
	name string
	f    *Function
}

// kernelForms returns the loaded forms of kernel k: the portable one, then
// the sm80/ one where it is loaded.
func kernelForms(ks *Kernels, k *ptx.Kernel) []kernelForm {
	forms := []kernelForm{{"portable", ks.fns[k]}}
	if f := ks.tn[k]; f != nil {
		forms = append(forms, kernelForm{"sm80", f})
	}
	return forms
}

func runSgemmCase(t *testing.T, c *Context, s *Stream, x sgemmCase) {
	skipLarge(t, 2*x.m*x.n*x.k)
	r := rand.New(rand.NewPCG(uint64(x.m*x.n), uint64(x.k)))
	ar, ac, br, bc := ref.Stored(x.tA == gemm.Trans, x.tB == gemm.Trans, x.m, x.n, x.k)
	lda, ldb, ldc := max(ac, 1)+x.pad, max(bc, 1)+x.pad, max(x.n, 1)+x.pad
	a := random(r, x.off+ar*lda+1, 1)
	b := random(r, x.off+br*ldb+1, 1)
	cv := random(r, x.off+x.m*ldc+1, 1)
	const guard = 777
	for i := range cv {
		row, col := (i-x.off)/ldc, (i-x.off)%ldc
		switch {
		case i < x.off || row >= x.m || col >= x.n:
			cv[i] = guard // outside C: must not change
		case x.beta == 0:
			cv[i] = float32(math.NaN()) // must be overwritten, not read
		}
	}
	da, db, dc := upload(t, c, a), upload(t, c, b), upload(t, c, cv)
	// Views starting off elements in: misaligned unless off%4 == 0.
	va, vb, vc := da.Slice(x.off, da.Len()), db.Slice(x.off, db.Len()), dc.Slice(x.off, dc.Len())
	if err := Sgemm(s, x.tA, x.tB, x.m, x.n, x.k, x.alpha, va, lda, vb, ldb, x.beta, vc, ldc); err != nil {
		t.Fatal(err)
	}
	got := read(t, s, dc)
	want := append([]float32(nil), cv...)
	bound := make([]float64, len(want)) // 0: exact
	if x.k == 0 || x.alpha == 0 {
		ref.Scale(want[x.off:], x.m, x.n, ldc, x.beta)
	} else {
		copy(bound[x.off:], ref.Sgemm(x.tA == gemm.Trans, x.tB == gemm.Trans, x.m, x.n, x.k, x.alpha, a[x.off:], lda, b[x.off:], ldb, x.beta, want[x.off:], ldc))
	}
	bad := 0
	for i := range got {
		e := bound[i]
		if got[i] == want[i] || math.Abs(float64(got[i])-float64(want[i])) <= e {
			continue
		}
		if bad++; bad <= 5 {
			t.Errorf("C[%d] (row %d, col %d) = %v, want %v ± %g", i, (i-x.off)/ldc, (i-x.off)%ldc, got[i], want[i], e)
		}
	}
	if bad > 5 {
		t.Errorf("%d of %d elements wrong", bad, len(got))
	}
}

func TestGPUElementwise(t *testing.T) {
	c, s := testGPU(t)
	r := rand.New(rand.NewPCG(1, 1))
	rows, cols, ld := 1001, 45, 47
	for act := Identity; act <= Softmax; act++ {
		for _, withBias := range []bool{false, true} {
			t.Run(fmt.Sprintf("BiasAct/%v/bias=%v", act, withBias), func(t *testing.T) {
				y := random(r, rows*ld, 4)
				copy(y, []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0.1, -0.2, 0, 1e-4, 20, -20})
				if act == Softmax {
					y[0], y[1], y[2] = 1, 2, 3
				}
				var bias []float32
				var dbias *Buffer[float32]
				if withBias {
					bias = random(r, cols, 0.5)
					dbias = upload(t, c, bias)
				}
				dy := upload(t, c, y)
				if err := BiasAct(s, act, dy, rows, cols, ld, dbias); err != nil {
					t.Fatal(err)
				}
				want := append([]float32(nil), y...)
				if act == Softmax {
					ref.SoftmaxRows(want, bias, rows, cols, ld)
				} else {
					ref.BiasAct(int(act), want, rows, cols, ld, bias)
				}
				ref.Compare(t, "y", read(t, s, dy), want, 2e-6, 1e-5)
			})
		}
		if act == Identity {
			continue
		}
		t.Run(fmt.Sprintf("ActGrad/%v", act), func(t *testing.T) {
			ldd, ldy := cols+1, cols+3
			d, y := random(r, rows*ldd, 1), random(r, rows*ldy, 1)
			if act == Softmax {
				ref.SoftmaxRows(y, nil, rows, cols, ldy)
			}
			dd, dy := upload(t, c, d), upload(t, c, y)
			if err := ActGrad(s, act, dd, ldd, dy, ldy, rows, cols); err != nil {
				t.Fatal(err)
			}
			want := append([]float32(nil), d...)
			if act == Softmax {
				ref.SoftmaxGrad(want, ldd, y, ldy, rows, cols)
			} else {
				ref.ActGrad(int(act), want, ldd, y, ldy, rows, cols)
			}
			ref.Compare(t, "d", read(t, s, dd), want, 1e-6, 1e-5)
		})
	}
	t.Run("BiasGrad", func(t *testing.T) {
		for _, sh := range [][2]int{{1500, 10}, {1, 1}, {100, 200}, {60000, 33}} {
			d := random(r, sh[0]*sh[1], 1)
			db := random(r, sh[1], 1)
			dd, ddb := upload(t, c, d), upload(t, c, db)
			if err := BiasGrad(s, ddb, dd, sh[0], sh[1], sh[1]); err != nil {
				t.Fatal(err)
			}
			ref.BiasGrad(db, d, sh[0], sh[1], sh[1])
			// float32 sums of up to 60000 values in [-1, 1].
			ref.Compare(t, fmt.Sprintf("db(%dx%d)", sh[0], sh[1]), read(t, s, ddb), db, 2e-6*float64(sh[0]), 1e-5)
		}
	})
	t.Run("GatherRows", func(t *testing.T) {
		srcRows, n := 500, 100
		src := random(r, srcRows*cols, 1)
		idx := make([]uint32, n)
		for i := range idx {
			idx[i] = uint32(r.IntN(srcRows))
		}
		idx[7] = uint32(srcRows + 3)
		dst := random(r, n*ld, 1)
		dsrc, ddst := upload(t, c, src), upload(t, c, dst)
		didx := must[*Buffer[uint32]](t)(Upload(c, idx))
		defer didx.Free()
		if err := GatherRows(s, ddst, ld, dsrc, cols, srcRows, didx, n, cols); err != nil {
			t.Fatal(err)
		}
		ref.GatherRows(dst, ld, src, cols, idx, srcRows, n, cols)
		ref.Compare(t, "dst", read(t, s, ddst), dst, 0, 0)
	})
}

func TestGPULosses(t *testing.T) {
	c, s := testGPU(t)
	rows, cols := 1500, 10
	ld := cols + 2
	r := rand.New(rand.NewPCG(2, 2))
	y := make([]float32, rows*ld)
	for i := range rows {
		y[i*ld+r.IntN(cols)] = 1
	}
	dy := upload(t, c, y)
	stats := must[*Buffer[float32]](t)(Alloc[float32](c, StatsLen(rows)))
	defer stats.Free()
	const scale = 1.0 / 1500
	for _, kind := range []string{"SoftmaxCE", "CCE", "MSE"} {
		for act := Identity; act <= Softmax; act++ {
			if kind == "SoftmaxCE" && act != Identity {
				continue
			}
			t.Run(fmt.Sprintf("%s/%v", kind, act), func(t *testing.T) {
				out := random(r, rows*ld, 3)
				if kind == "CCE" {
					for i := range out {
						out[i] = r.Float32()*0.98 + 0.01
					}
				}
				if act == Softmax {
					ref.SoftmaxRows(out, nil, rows, cols, ld)
				}
				dout := upload(t, c, out)
				g := make([]float32, rows*ld)
				dg := upload(t, c, g)
				if err := stats.Fill(s, 0); err != nil {
					t.Fatal(err)
				}
				var err error
				var loss, hits float64
				switch kind {
				case "SoftmaxCE":
					err = SoftmaxCE(s, dout, ld, dy, ld, dg, ld, rows, cols, scale, stats)
					loss, hits = ref.SoftmaxCE(out, ld, y, ld, g, ld, rows, cols, scale)
				case "CCE":
					err = CCE(s, act, dout, ld, dy, ld, dg, ld, rows, cols, scale, stats)
					loss, hits = ref.CCE(out, ld, y, ld, g, ld, rows, cols, scale, int(act))
				case "MSE":
					err = MSE(s, act, dout, ld, dy, ld, dg, ld, rows, cols, scale, stats)
					loss, hits = ref.MSE(out, ld, y, ld, g, ld, rows, cols, scale, int(act))
				}
				if err != nil {
					t.Fatal(err)
				}
				gl, gh := SumStats(read(t, s, stats))
				if math.Abs(gl-loss) > 1e-4*(1+math.Abs(loss)) || gh != hits {
					t.Errorf("stats %v, %v, want %v, %v", gl, gh, loss, hits)
				}
				got := read(t, s, dg)
				for i := range rows {
					ref.Compare(t, fmt.Sprintf("g[%d]", i), got[i*ld:i*ld+cols], g[i*ld:i*ld+cols], 1e-8, 1e-4)
				}
			})
		}
	}
}

func TestGPUOptimizers(t *testing.T) {
	c, s := testGPU(t)
	r := rand.New(rand.NewPCG(3, 3))
	const n = 100000 + 17
	w, g := random(r, n, 1), random(r, n, 1)
	dg := upload(t, c, g)
	t.Run("SGD", func(t *testing.T) {
		for _, mu := range []float32{0, 0.9} {
			w := append([]float32(nil), w...)
			v := make([]float32, n)
			dw, dv := upload(t, c, w), upload(t, c, v)
			for range 3 {
				if err := SGD(s, dw, dg, dv, 0.01, mu); err != nil {
					t.Fatal(err)
				}
				ref.SGD(w, g, v, 0.01, mu)
			}
			ref.Compare(t, "w", read(t, s, dw), w, 0, 0)
			ref.Compare(t, "v", read(t, s, dv), v, 0, 0)
		}
	})
	t.Run("RMSprop", func(t *testing.T) {
		w := append([]float32(nil), w...)
		ms := make([]float32, n)
		dw, dms := upload(t, c, w), upload(t, c, ms)
		for range 3 {
			if err := RMSprop(s, dw, dg, dms, 0.001, 0.9, 1e-7); err != nil {
				t.Fatal(err)
			}
			ref.RMSprop(w, g, ms, 0.001, 0.9, 1e-7)
		}
		ref.Compare(t, "w", read(t, s, dw), w, 0, 0)
		ref.Compare(t, "ms", read(t, s, dms), ms, 0, 0)
	})
	t.Run("Adam", func(t *testing.T) {
		w := append([]float32(nil), w...)
		m, v, state := make([]float32, n), make([]float32, n), []float32{1, 1, 0}
		dw, dm, dv, dst := upload(t, c, w), upload(t, c, m), upload(t, c, v), upload(t, c, state)
		for range 3 {
			if err := Adam(s, dw, dg, dm, dv, dst, 0.001, 0.9, 0.999, 1e-7); err != nil {
				t.Fatal(err)
			}
			ref.AdamStep(state, 0.001, 0.9, 0.999)
			ref.Adam(w, g, m, v, state, 0.9, 0.999, 1e-7)
		}
		ref.Compare(t, "state", read(t, s, dst), state, 0, 0)
		ref.Compare(t, "w", read(t, s, dw), w, 0, 0)
		ref.Compare(t, "m", read(t, s, dm), m, 0, 0)
		ref.Compare(t, "v", read(t, s, dv), v, 0, 0)
	})
}

func TestGPUBudget(t *testing.T) {
	c, _ := testGPU(t)
	ctx := must[*Context](t)(c.Device().NewContext()) // its own budget
	defer ctx.Close()
	ctx.SetBudget(1 << 20)
	b := must[*Buffer[float32]](t)(Alloc[float32](ctx, 1<<17)) // 512 KiB
	_, err := Alloc[float32](ctx, 1<<17+1)
	var e *Error
	if !errors.Is(err, ErrOutOfMemory) || !errors.As(err, &e) || e.Requested != 1<<19+4 || e.Budget != 1<<20 || e.InUse != 1<<19 || e.Free <= 0 {
		t.Fatalf("over the budget: %v (%+v)", err, e)
	}
	t.Log(err)
	if err := b.Free(); err != nil {
		t.Fatal(err)
	}
	if _, used, peak := ctx.Budget(); used != 0 || peak != 1<<19 {
		t.Errorf("used %d, peak %d", used, peak)
	}
	// More than the device has: the driver's error, with the details.
	ctx.SetBudget(0)
	_, err = Alloc[float32](ctx, int(ctx.Device().TotalMemory))
	if !errors.Is(err, ErrOutOfMemory) || !errors.As(err, &e) || e.Code != ErrorOutOfMemory || e.Free < 0 {
		t.Fatalf("over the device: %v", err)
	}
	t.Log(err)
}

func TestGPUModuleErrors(t *testing.T) {
	c, _ := testGPU(t)
	const header = ".version 7.0\n.target sm_52\n.address_size 64\n"
	_, err := c.LoadModule("bad.ptx", header+".visible .entry k()\n{\n\tbogus.instruction %r1;\n\tret;\n}\n")
	var e *Error
	if !errors.Is(err, ErrInvalidPTX) || !errors.As(err, &e) || e.Log == "" || e.Module != "bad.ptx" {
		t.Fatalf("invalid PTX: %v", err)
	}
	t.Log(err)
	_, err = c.LoadModule("future.ptx", ".version 99.9\n.target sm_52\n.address_size 64\n.visible .entry k()\n{\n\tret;\n}\n")
	if !errors.Is(err, ErrPTXVersion) && !errors.Is(err, ErrInvalidPTX) {
		t.Fatalf("PTX 99.9: %v", err)
	}
	t.Log(err)
	m := must[*Module](t)(c.LoadModule("ok.ptx", header+".visible .entry k(.param .u32 n)\n{\n\tret;\n}\n"))
	defer m.Unload()
	if _, err := m.Function("missing"); err == nil {
		t.Error("missing function found")
	}
	f := must[*Function](t)(m.Function("k"))
	_, s := testGPU(t)
	if err := s.Launch(f, Dim3{X: 1}, Dim3{X: 32}, 0, U32(5)); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "cuda: launch of k: argument 0 (n) is .f32, the kernel takes .u32", func() { s.Launch(f, Dim3{}, Dim3{}, 0, F32(5)) })
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
}

// TestGPUGraph captures a small training-like step and replays it.
func TestGPUGraph(t *testing.T) {
	c, s := testGPU(t)
	r := rand.New(rand.NewPCG(4, 4))
	const n = 1000
	w, g := random(r, n, 1), random(r, n, 1)
	v := make([]float32, n)
	dw, dg, dv := upload(t, c, w), upload(t, c, g), upload(t, c, v)
	graph, err := s.Capture(func() error {
		if err := dv.Fill(s, 0); err != nil {
			return err
		}
		if err := SGD(s, dw, dg, dv, 0.5, 0.9); err != nil {
			return err
		}
		return Sgemm(s, gemm.NoTrans, gemm.NoTrans, 10, 100, 0, 1, nil, 1, nil, 100, 0.5, dg, 100) // g *= 0.5
	})
	if err != nil {
		t.Fatal(err)
	}
	defer graph.Destroy()
	if got := read(t, s, dw); !equal(got, w) {
		t.Fatal("capture ran the work")
	}
	for range 3 {
		if err := graph.Launch(s); err != nil {
			t.Fatal(err)
		}
		clear(v)
		ref.SGD(w, g, v, 0.5, 0.9)
		ref.Scale(g, 10, 100, 100, 0.5)
	}
	ref.Compare(t, "w", read(t, s, dw), w, 0, 0)
	ref.Compare(t, "g", read(t, s, dg), g, 0, 0)
}

func equal(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestGPUCopiesAndEvents(t *testing.T) {
	c, s := testGPU(t)
	const n = 1 << 20
	h := must[*HostBuffer[float32]](t)(AllocHost[float32](c, n))
	defer h.Free()
	for i := range h.Data() {
		h.Data()[i] = float32(i)
	}
	d := must[*Buffer[float32]](t)(Alloc[float32](c, n))
	defer d.Free()
	e := must[*Buffer[float32]](t)(Alloc[float32](c, n))
	defer e.Free()
	start, end := must[*Event](t)(c.NewEvent()), must[*Event](t)(c.NewEvent())
	defer start.Destroy()
	defer end.Destroy()
	if err := start.Record(s); err != nil {
		t.Fatal(err)
	}
	if err := d.Upload(s, h); err != nil {
		t.Fatal(err)
	}
	if err := e.CopyFrom(s, d); err != nil {
		t.Fatal(err)
	}
	if err := d.Slice(0, n/2).Fill(s, -1); err != nil {
		t.Fatal(err)
	}
	if err := e.Download(s, h); err != nil {
		t.Fatal(err)
	}
	if err := end.Record(s); err != nil {
		t.Fatal(err)
	}
	if err := end.Sync(); err != nil {
		t.Fatal(err)
	}
	if done, err := s.Done(); !done || err != nil {
		t.Errorf("stream done = %v, %v", done, err)
	}
	el, err := Elapsed(start, end)
	if err != nil || el <= 0 || el > time.Second {
		t.Errorf("elapsed %v, %v", el, err)
	}
	t.Logf("8 MiB up, device copy, fill, down: %v", el)
	for i, x := range h.Data() {
		if x != float32(i) {
			t.Fatalf("h[%d] = %v", i, x)
		}
	}
	got := read(t, s, d)
	if got[0] != -1 || got[n/2-1] != -1 || got[n/2] != n/2 {
		t.Errorf("fill: %v %v %v", got[0], got[n/2-1], got[n/2])
	}
}

// TestGPUGoroutines uses one context from many goroutines, which move
// between OS threads.
func TestGPUGoroutines(t *testing.T) {
	c, _ := testGPU(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			s, err := c.NewStream()
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Destroy()
			for j := range 20 {
				v := []float32{float32(i), float32(j), 3}
				b, err := Upload(c, v)
				if err != nil {
					t.Error(err)
					return
				}
				if err := Sgemm(s, gemm.NoTrans, gemm.NoTrans, 1, 3, 0, 1, nil, 1, nil, 3, 2, b, 3); err != nil {
					t.Error(err)
				}
				s.Sync()
				got, err := b.Read()
				if err != nil || got[0] != 2*v[0] || got[2] != 6 {
					t.Errorf("goroutine %d: %v %v", i, got, err)
				}
				b.Free()
			}
		})
	}
	wg.Wait()
}

// benchSgemmShapes are BenchmarkSgemm's products: 4096³ (the issue's
// target), and the products of the MNIST training step at batch 1500.
var benchSgemmShapes = []benchShape{
	{"NN/m=4096/n=4096/k=4096", gemm.NoTrans, gemm.NoTrans, 4096, 4096, 4096},
	{"NT/m=4096/n=4096/k=4096", gemm.NoTrans, gemm.Trans, 4096, 4096, 4096},
	{"TN/m=4096/n=4096/k=4096", gemm.Trans, gemm.NoTrans, 4096, 4096, 4096},
	{"NN/m=1024/n=1024/k=1024", gemm.NoTrans, gemm.NoTrans, 1024, 1024, 1024},
	{"NN/m=1500/n=200/k=784", gemm.NoTrans, gemm.NoTrans, 1500, 200, 784},
	{"TN/m=785/n=200/k=1500", gemm.Trans, gemm.NoTrans, 785, 200, 1500},
	{"NT/m=1500/n=200/k=100", gemm.NoTrans, gemm.Trans, 1500, 200, 100},
	{"TN/m=201/n=100/k=1500", gemm.Trans, gemm.NoTrans, 201, 100, 1500},
	{"NN/m=1500/n=50/k=101", gemm.NoTrans, gemm.NoTrans, 1500, 50, 101},
	{"TN/m=31/n=10/k=1500", gemm.Trans, gemm.NoTrans, 31, 10, 1500},
}

// benchShape is a product of BenchmarkSgemm.
type benchShape struct {
	name    string
	tA, tB  gemm.Transpose
	m, n, k int
}

// fakeSgemmShapes stand for benchSgemmShapes on the fake driver, whose
// simulator runs some millions of instructions a second: each transpose
// pair, tiles of both kernels, and products split along k.
var fakeSgemmShapes = []benchShape{
	{"NN/m=130/n=70/k=24", gemm.NoTrans, gemm.NoTrans, 130, 70, 24},
	{"NT/m=70/n=66/k=40", gemm.NoTrans, gemm.Trans, 70, 66, 40},
	{"TN/m=65/n=20/k=600", gemm.Trans, gemm.NoTrans, 65, 20, 600},
	{"TN/m=31/n=10/k=600", gemm.Trans, gemm.NoTrans, 31, 10, 600},
}

// benchSgemmVariants returns Sgemm's shape for an m×n×k product on sms
// multiprocessors of compute capability cc, the forced variants beside it
// (by name), and the workspace they all need: its counters (one for each
// 64×64 tile, as forced splits may split more tiles than Sgemm would) and
// its length (the partials of up to 4·auto.splits slices after them).
func benchSgemmVariants(m, n, k, sms, cc int) (auto sgemmShape, variants map[string]sgemmShape, counters, wlen int) {
	auto = sgemmShapeFor(m, n, k, sms, cc, math.MaxInt)
	counters = max(sgemmCounters(sms, cc), ((m+63)/64*((n+63)/64)+63)&^63)
	wlen = counters + 4*max(1, auto.splits)*sgemmPart(m, n)
	variants = map[string]sgemmShape{"auto": auto}
	for _, x := range []struct {
		kernel *ptx.Kernel
		splits int
	}{{ptx.Sgemm, 1}, {ptx.Sgemm64, 1}, {ptx.Sgemm64, auto.splits / 2}, {ptx.Sgemm64, 2 * auto.splits}} {
		if x.splits < 1 {
			continue
		}
		if v := forcedShape(x.kernel, x.splits, k); v != auto {
			variants[fmt.Sprintf("tile=%d/splits=%d", v.tile, v.splits)] = v
		}
	}
	return auto, variants, counters, wlen
}

// TestBenchSgemmVariants plans every launch of BenchmarkSgemm, without a
// GPU, on the devices it may meet, so that the benchmark cannot fail on
// its plan where it runs for the first time.
func TestBenchSgemmVariants(t *testing.T) {
	for _, d := range []struct{ sms, cc int }{{132, 90}, {108, 80}, {80, 70}, {84, 86}, {16, 52}} {
		for _, sh := range benchSgemmShapes {
			_, variants, counters, wlen := benchSgemmVariants(sh.m, sh.n, sh.k, d.sms, d.cc)
			w := operand{ptr: 1 << 20, n: wlen, ok: true}
			big := operand{ptr: 1 << 40, n: 1 << 30, ok: true}
			for name, v := range variants {
				l := sgemmLaunch(sh.tA, sh.tB, sh.m, sh.n, sh.k, 1, big, max(sh.k, sh.m), big, max(sh.k, sh.n), 0, big, sh.n)
				p := sgemmShaped(l, v, w, counters) // panics if the workspace is short
				if p.kernel != v.kernel || int(p.grid.Z) != v.splits {
					t.Errorf("%d SMs, cc %d, %s/%s: %s in %d slices", d.sms, d.cc, sh.name, name, p.kernel.Name, p.grid.Z)
				}
			}
		}
	}
}

// BenchmarkSgemm reports GFLOP/s measured with events, for square sizes
// and the largest products of an MNIST training step at batch 1500.
// "auto" is the launch Sgemm plans with a workspace, as the mlp backend
// runs it (with the benchmark's own counters); the other variants force a
// kernel and a number of slices of k (the data behind sgemmShapeFor's
// rule) or, where the sm80/ forms load, one form (the data behind
// Kernels.function's choice).
func BenchmarkSgemm(b *testing.B) {
	c, s := testGPU(b)
	sms := c.Device().SMs
	ks := must[*Kernels](b)(c.Kernels())
	shapes := benchSgemmShapes
	if fakeMode {
		shapes = fakeSgemmShapes
	}
	for _, sh := range shapes {
		r := rand.New(rand.NewPCG(5, 5))
		da := upload(b, c, random(r, sh.m*sh.k, 1))
		db := upload(b, c, random(r, sh.k*sh.n, 1))
		dc := must[*Buffer[float32]](b)(Alloc[float32](c, sh.m*sh.n))
		_, lda, _, ldb := ref.Stored(sh.tA == gemm.Trans, sh.tB == gemm.Trans, sh.m, sh.n, sh.k)
		auto, variants, counters, wlen := benchSgemmVariants(sh.m, sh.n, sh.k, sms, c.Device().cc())
		w := must[*Buffer[float32]](b)(Alloc[float32](c, wlen))
		if err := w.Fill(s, 0); err != nil {
			b.Fatal(err)
		}
		names := slices.Sorted(maps.Keys(variants))
		if len(ks.tn) > 0 {
			// Where the sm80/ forms are loaded, each form for comparison.
			names = append(names, "auto/portable", "auto/sm80")
			variants["auto/portable"], variants["auto/sm80"] = auto, auto
		}
		for _, name := range names {
			v := variants[name]
			b.Run(sh.name+"/"+name, func(b *testing.B) {
				oa, ob, oc, ow := opnd("", da), opnd("", db), opnd("", dc), opnd("", w)
				l := sgemmLaunch(sh.tA, sh.tB, sh.m, sh.n, sh.k, 1, oa, lda, ob, ldb, 0, oc, sh.n)
				l = sgemmShaped(l, v, ow, counters)
				launch := func() error { return l.run(s) }
				for _, form := range kernelForms(ks, l.kernel) {
					if name == "auto/"+form.name {
						f := form.f
						launch = func() error { return s.Launch(f, l.grid, l.block, 0, l.args...) }
					}
				}
				run := func() {
					if err := launch(); err != nil {
						b.Fatal(err)
					}
				}
				run() // warm up
				start, end := must[*Event](b)(c.NewEvent()), must[*Event](b)(c.NewEvent())
				defer start.Destroy()
				defer end.Destroy()
				// A b.N loop rather than b.Loop, whose timer would stop
				// before the Sync: the launches only queue the products, and
				// the benchmark's calibration needs the time they take.
				b.ResetTimer()
				start.Record(s)
				for range b.N {
					run()
				}
				end.Record(s)
				if err := end.Sync(); err != nil {
					b.Fatal(err)
				}
				el, _ := Elapsed(start, end)
				flops := 2 * float64(sh.m) * float64(sh.n) * float64(sh.k) * float64(b.N)
				b.ReportMetric(flops/el.Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(el.Seconds()*1e6/float64(b.N), "µs/op")
			})
		}
		w.Free()
		dc.Free()
	}
}

// TestGPUKernelForms checks that the SGEMM modules load in their sm80/
// form on GPUs of compute capability 8.0 and later, and portable before.
func TestGPUKernelForms(t *testing.T) {
	c, _ := testGPU(t)
	ks, err := c.Kernels()
	if err != nil {
		t.Fatal(err)
	}
	log := ks.InfoLog()
	for _, pm := range []*ptx.Module{ptx.SgemmModule, ptx.Sgemm64Module} {
		want := pm.For(c.Device().Major).File
		if !strings.Contains(log, "== "+want+"\n") {
			t.Errorf("compute capability %d.%d: %s not loaded; the JIT log:\n%s", c.Device().Major, c.Device().Minor, want, log)
		}
	}
	t.Logf("%s", log)
}

// BenchmarkLaunch measures the host cost of queueing a small kernel and
// of replaying a captured graph of 10 of them.
func BenchmarkLaunch(b *testing.B) {
	c, s := testGPU(b)
	d := upload(b, c, make([]float32, 256))
	b.Run("kernel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := BiasAct(s, Sigmoid, d, 1, 256, 256, nil); err != nil {
				b.Fatal(err)
			}
		}
		s.Sync()
	})
	b.Run("graph10", func(b *testing.B) {
		g, err := s.Capture(func() error {
			for range 10 {
				if err := BiasAct(s, Sigmoid, d, 1, 256, 256, nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		defer g.Destroy()
		b.ReportAllocs()
		for b.Loop() {
			if err := g.Launch(s); err != nil {
				b.Fatal(err)
			}
		}
		s.Sync()
	})
}
