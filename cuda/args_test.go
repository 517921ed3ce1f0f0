package cuda

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/ptx"
)

// buf returns an operand of n elements for the argument checks.
func buf(n int) operand { return operand{ptr: 0x10000, n: n, ok: true} }

// TestLaunchSignatures builds every launch the launchers make and checks
// its arguments against the kernel's parameter list in the ptx table,
// which TestSignatures of package ptx checks against the PTX text: so a
// launcher and its kernel cannot disagree without a test failing on a
// machine without a GPU.
func TestLaunchSignatures(t *testing.T) {
	var ls []*launch
	add := func(l ...*launch) {
		for _, x := range l {
			if x == nil {
				t.Fatal("no launch")
			}
			ls = append(ls, x)
		}
	}
	big := buf(1 << 20)
	add(sgemmLaunch(gemm.NoTrans, gemm.Trans, 30, 40, 50, 1, big, 50, big, 50, 0, big, 40))
	add(sgemmLaunch(gemm.NoTrans, gemm.NoTrans, 30, 40, 0, 1, operand{}, 1, operand{}, 40, 2, big, 40))
	add(sgemmPlan(sgemmLaunch(gemm.Trans, gemm.NoTrans, 30, 40, 500, 1, big, 30, big, 40, 0, big, 40), big, &Device{SMs: 132, Major: 9}))
	for act := Identity; act <= Softmax; act++ {
		add(biasActLaunch(act, big, 10, 20, 20, buf(20)))
		if act != Identity {
			add(actGradLaunch(act, big, 20, big, 21, 10, 20))
		}
		add(lossLaunch("CCE", ptx.CCE, act, true, big, 10, big, 10, big, 10, 5, 10, 0.2, buf(2)))
		add(lossLaunch("MSE", ptx.MSE, act, true, big, 10, big, 10, operand{}, 0, 5, 10, 0.2, buf(2)))
	}
	add(biasGradLaunch(buf(20), big, 10, 20, 20))
	add(gatherRowsLaunch("GatherRows", big, 20, big, 20, 100, buf(10), 10, 20))
	add(gatherRowsBytesLaunch(big, 20, big, 20, 100, buf(10), 10, 20, 255))
	add(lossLaunch("SoftmaxCE", ptx.SoftmaxCE, 0, false, big, 10, big, 10, big, 10, 5, 10, 0.2, operand{}))
	add(sgdLaunch(buf(100), buf(100), operand{}, 0.1, 0))
	add(sgdLaunch(buf(100), buf(100), buf(100), 0.1, 0.9))
	add(rmspropLaunch(buf(100), buf(100), buf(100), 0.001, 0.9, 1e-7))
	add(adamLaunches(buf(100), buf(100), buf(100), buf(100), buf(3), 0.001, 0.9, 0.999, 1e-7)...)

	covered := map[*ptx.Kernel]bool{}
	for _, l := range ls {
		covered[l.kernel] = true
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: %v", l.kernel.Name, r)
				}
			}()
			checkArgs(l.kernel.Name, l.kernel.Params, l.args)
		}()
		if l.block.X*max(l.block.Y, 1)*max(l.block.Z, 1) > 1024 {
			t.Errorf("%s: block %v too large", l.kernel.Name, l.block)
		}
	}
	for _, k := range ptx.Kernels() {
		if !covered[k] {
			t.Errorf("kernel %s has no launcher", k.Name)
		}
	}
}

func TestCheckArgs(t *testing.T) {
	params := []ptx.Param{{Name: "n", Type: ptx.U32}, {Name: "x", Type: ptx.F32}}
	checkArgs("k", params, []Arg{U32(1), F32(2)})
	mustPanic(t, "cuda: launch of k with 1 arguments, it takes 2", func() { checkArgs("k", params, []Arg{U32(1)}) })
	mustPanic(t, "cuda: launch of k: argument 1 (x) is .u32, the kernel takes .f32", func() { checkArgs("k", params, []Arg{U32(1), U32(2)}) })
	if a := I32(-1); a.Type != ptx.S32 || a.bits != 0xffffffff {
		t.Errorf("I32(-1) = %+v", a)
	}
	if a := F32(1); a.Type != ptx.F32 || a.bits != 0x3f800000 {
		t.Errorf("F32(1) = %+v", a)
	}
	var nilBuf *Buffer[float32]
	if a := nilBuf.Arg(); a != Ptr(0) {
		t.Errorf("nil buffer argument %+v", a)
	}
}

// TestSgemmTrivial checks which kernel the special cases use.
func TestSgemmTrivial(t *testing.T) {
	c := buf(100)
	for _, x := range []struct {
		m, n, k     int
		alpha, beta float32
		want        string
	}{
		{0, 5, 5, 1, 0, ""},
		{5, 0, 5, 1, 0, ""},
		{5, 5, 0, 1, 1, ""},
		{5, 5, 5, 0, 1, ""},
		{5, 5, 0, 1, 0, "scale"},
		{5, 5, 5, 0, 2, "scale"},
		{5, 5, 5, 1, 0, "sgemm"},
		{5, 5, 5, 1, 1, "sgemm"},
	} {
		a, b := buf(25), buf(25)
		if x.k == 0 {
			a, b = operand{}, operand{}
		}
		l := sgemmLaunch(gemm.NoTrans, gemm.NoTrans, x.m, x.n, x.k, x.alpha, a, max(x.k, 1), b, max(x.n, 1), x.beta, c, max(x.n, 1))
		got := ""
		if l != nil {
			got = l.kernel.Name
		}
		if got != x.want {
			t.Errorf("m=%d n=%d k=%d alpha=%g beta=%g: kernel %q, want %q", x.m, x.n, x.k, x.alpha, x.beta, got, x.want)
		}
	}
	l := sgemmLaunch(gemm.Trans, gemm.Trans, 300, 129, 7, 1, buf(7*300), 300, buf(129*7), 7, 0, buf(300*129), 129)
	if l.grid != (Dim3{X: 2, Y: 3}) || l.block != (Dim3{X: 256}) || l.args[11] != U32(3) {
		t.Errorf("grid %v block %v trans %v", l.grid, l.block, l.args[11])
	}
}

// gemmPanic returns the message gemm.Sgemm panics with for slices of the
// given lengths (-1 for nil).
func gemmPanic(tA, tB gemm.Transpose, m, n, k, la, lda, lb, ldb, lc, ldc int) (msg string) {
	mk := func(n int) []float32 {
		if n < 0 {
			return nil
		}
		return make([]float32, n)
	}
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	gemm.Sgemm(tA, tB, m, n, k, 1, mk(la), lda, mk(lb), ldb, 0, mk(lc), ldc)
	return "no panic"
}

// TestSgemmArgs checks that Sgemm rejects exactly what gemm.Sgemm rejects,
// with the same message.
func TestSgemmArgs(t *testing.T) {
	type c struct {
		tA, tB                    gemm.Transpose
		m, n, k                   int
		la, lda, lb, ldb, lc, ldc int
	}
	N, T := gemm.NoTrans, gemm.Trans
	for _, x := range []c{
		{2, N, 4, 5, 3, 12, 3, 15, 5, 20, 5},
		{N, -1, 4, 5, 3, 12, 3, 15, 5, 20, 5},
		{N, N, -1, 5, 3, 12, 3, 15, 5, 20, 5},
		{N, N, 4, -2, 3, 12, 3, 15, 5, 20, 5},
		{N, N, 4, 5, -3, 12, 3, 15, 5, 20, 5},
		{N, N, 4, 5, 3, 12, 2, 15, 5, 20, 5}, // lda < k
		{T, N, 4, 5, 3, 12, 3, 15, 5, 20, 5}, // lda < m for Aᵀ
		{N, T, 4, 5, 3, 12, 3, 15, 2, 20, 5}, // ldb < k for Bᵀ
		{N, N, 4, 5, 3, 12, 3, 15, 5, 20, 4}, // ldc < n
		{N, N, 4, 5, 3, 11, 3, 15, 5, 20, 5}, // short a
		{N, N, 4, 5, 3, -1, 3, 15, 5, 20, 5}, // nil a
		{N, N, 4, 5, 3, 12, 3, 14, 5, 20, 5}, // short b
		{N, N, 4, 5, 3, 12, 3, 15, 5, 19, 5}, // short c
		{N, N, 4, 5, 3, 14, 4, 15, 5, 19, 6}, // padded, short c
		{T, T, 4, 5, 3, 11, 4, 15, 3, 20, 5}, // short Aᵀ
		{N, N, 0, 5, 3, -1, 3, 15, 5, -1, 5}, // empty: nil is fine
		{N, N, 4, 5, 0, -1, 1, -1, 5, 20, 5}, // k == 0: nil A and B are fine
		{N, N, 4, 5, 3, 12, 3, 15, 5, 20, 5}, // all fine
		{N, N, 4, 5, 3, 12, 0, 15, 5, 20, 5}, // lda = 0
		{N, N, 0, 0, 0, -1, 0, -1, 0, -1, 0}, // ld = 0 < 1 even when empty
	} {
		want := gemmPanic(x.tA, x.tB, x.m, x.n, x.k, x.la, x.lda, x.lb, x.ldb, x.lc, x.ldc)
		want = strings.Replace(want, "gemm: ", "cuda: ", 1)
		op := func(n int) operand {
			if n < 0 {
				return operand{}
			}
			return buf(n)
		}
		got := func() (msg string) {
			defer func() {
				if r := recover(); r != nil {
					msg = fmt.Sprint(r)
				}
			}()
			sgemmLaunch(x.tA, x.tB, x.m, x.n, x.k, 1, op(x.la), x.lda, op(x.lb), x.ldb, 0, op(x.lc), x.ldc)
			return "no panic"
		}()
		if !strings.HasPrefix(got, "cuda: ") && got != "no panic" {
			t.Errorf("%+v: panic %q without the package prefix", x, got)
		}
		if strings.Contains(got, "is nil, needed") && strings.Contains(want, "len(a) = 0 <") {
			continue // gemm sees a nil slice as an empty one; cuda says nil
		}
		if got != want {
			t.Errorf("%+v:\n cuda panics %q\n gemm panics %q", x, got, want)
		}
	}
	mustPanic(t, "cuda: m = 8388481 > 8388480, the largest the kernels support", func() {
		sgemmLaunch(N, N, maxSgemmM+1, 1, 1, 1, buf(maxSgemmM+1), 1, buf(1), 1, 0, buf(maxSgemmM+1), 1)
	})
	mustPanic(t, "cuda: Sgemm on a nil stream", func() {
		b := &Buffer[float32]{n: 1, mem: &allocation{}}
		Sgemm(nil, N, N, 1, 1, 1, 1, b, 1, b, 1, 0, b, 1)
	})
}

func TestOpsArgs(t *testing.T) {
	for _, x := range []struct {
		want string
		f    func()
	}{
		{"cuda: BiasAct: unknown activation 7", func() { biasActLaunch(7, buf(10), 2, 5, 5, operand{}) }},
		{"cuda: BiasAct: rows = -1 out of range [0, 2147483647]", func() { biasActLaunch(Sigmoid, buf(10), -1, 5, 5, operand{}) }},
		{"cuda: BiasAct: ld = 4, want max(1, cols) = 5 <= ld <= 2147483647", func() { biasActLaunch(Sigmoid, buf(10), 2, 5, 4, operand{}) }},
		{"cuda: BiasAct: len(y) = 9 < 10, needed for a 2×5 matrix with ld = 5", func() { biasActLaunch(Sigmoid, buf(9), 2, 5, 5, operand{}) }},
		{"cuda: BiasAct: y is nil, needed for a 2×5 matrix", func() { biasActLaunch(Sigmoid, operand{}, 2, 5, 5, operand{}) }},
		{"cuda: BiasAct: len(bias) = 4, want cols = 5", func() { biasActLaunch(Sigmoid, buf(10), 2, 5, 5, buf(4)) }},
		{"cuda: ActGrad: len(y) = 10 < 11, needed for a 2×5 matrix with ldy = 6", func() { actGradLaunch(Tanh, buf(10), 5, buf(10), 6, 2, 5) }},
		{"cuda: BiasGrad: len(db) = 6, want cols = 5", func() { biasGradLaunch(buf(6), buf(10), 2, 5, 5) }},
		{"cuda: GatherRows: len(idx) = 3, want rows = 2", func() { gatherRowsLaunch("GatherRows", buf(10), 5, buf(50), 5, 10, buf(3), 2, 5) }},
		{"cuda: GatherRowsBytes: len(src) = 49 < 50, needed for a 10×5 matrix with lds = 5", func() { gatherRowsBytesLaunch(buf(10), 5, buf(49), 5, 10, buf(2), 2, 5, 255) }},
		{"cuda: GatherRowsBytes: div = 0, want a finite non-zero divisor", func() { gatherRowsBytesLaunch(buf(10), 5, buf(50), 5, 10, buf(2), 2, 5, 0) }},
		{"cuda: GatherRowsBytes: div = NaN, want a finite non-zero divisor", func() {
			gatherRowsBytesLaunch(buf(10), 5, buf(50), 5, 10, buf(2), 2, 5, float32(math.NaN()))
		}},
		{"cuda: GatherRows: len(src) = 49 < 50, needed for a 10×5 matrix with lds = 5", func() { gatherRowsLaunch("GatherRows", buf(10), 5, buf(49), 5, 10, buf(2), 2, 5) }},
		{"cuda: SoftmaxCE: len(z) = 9 < 10, needed for a 2×5 matrix with ldz = 5", func() {
			lossLaunch("SoftmaxCE", ptx.SoftmaxCE, 0, false, buf(9), 5, buf(10), 5, operand{}, 0, 2, 5, 1, buf(2))
		}},
		{"cuda: CCE: len(stats) = 1 < StatsLen(2) = 2", func() {
			lossLaunch("CCE", ptx.CCE, Sigmoid, true, buf(10), 5, buf(10), 5, operand{}, 0, 2, 5, 1, buf(1))
		}},
		{"cuda: MSE: len(stats) = 2 < StatsLen(9) = 4", func() { // a pair for each block of 8 rows
			lossLaunch("MSE", ptx.MSE, Sigmoid, true, buf(45), 5, buf(45), 5, operand{}, 0, 9, 5, 1, buf(2))
		}},
		{"cuda: MSE: ldg = 3, want max(1, cols) = 5 <= ldg <= 2147483647", func() {
			lossLaunch("MSE", ptx.MSE, Sigmoid, true, buf(10), 5, buf(10), 5, buf(10), 3, 2, 5, 1, operand{})
		}},
		{"cuda: SGD: len(g) = 9, want len(w) = 10", func() { sgdLaunch(buf(10), buf(9), operand{}, 1, 0) }},
		{"cuda: SGD: v is nil", func() { sgdLaunch(buf(10), buf(10), operand{}, 1, 0.9) }},
		{"cuda: RMSprop: len(ms) = 11, want len(w) = 10", func() { rmspropLaunch(buf(10), buf(10), buf(11), 1, 0.9, 1e-7) }},
		{"cuda: Adam: w is nil", func() { adamLaunches(operand{}, buf(10), buf(10), buf(10), buf(3), 1, 0.9, 0.999, 1e-7) }},
		{"cuda: Adam: len(state) = 2, want AdamState = 3", func() { adamLaunches(buf(10), buf(10), buf(10), buf(10), buf(2), 1, 0.9, 0.999, 1e-7) }},
	} {
		mustPanic(t, x.want, x.f)
	}
	// Nothing to do: no launch.
	if l := biasActLaunch(Identity, buf(10), 2, 5, 5, operand{}); l != nil {
		t.Errorf("identity without bias launches %s", l.kernel.Name)
	}
	if l := actGradLaunch(Identity, buf(10), 5, buf(10), 5, 2, 5); l != nil {
		t.Errorf("identity gradient launches %s", l.kernel.Name)
	}
	if l := biasActLaunch(Softmax, buf(10), 2, 5, 5, operand{}); l.kernel != ptx.SoftmaxRows {
		t.Errorf("softmax launches %s", l.kernel.Name)
	}
	if l := sgdLaunch(buf(10), buf(10), buf(10), 1, 0); l.args[2] != Ptr(0) {
		t.Errorf("sgd without momentum passes v = %v", l.args[2])
	}
}

func TestBufferPanics(t *testing.T) {
	b := &Buffer[float32]{n: 4, mem: &allocation{bytes: 16}}
	mustPanic(t, "cuda: Buffer.CopyFromHost: len(src) = 3, want 4, the buffer's length", func() { b.CopyFromHost(make([]float32, 3)) })
	mustPanic(t, "cuda: Buffer.CopyToHost: len(dst) = 5, want 4, the buffer's length", func() { b.CopyToHost(make([]float32, 5)) })
	mustPanic(t, "cuda: Buffer.Slice(3, 5) of a buffer of length 4", func() { b.Slice(3, 5) })
	mustPanic(t, "cuda: Buffer.Slice(-1, 2) of a buffer of length 4", func() { b.Slice(-1, 2) })
	v := b.Slice(1, 3)
	if v.Len() != 2 || v.Ptr() != b.Ptr()+4 {
		t.Errorf("view: len %d ptr %#x", v.Len(), v.Ptr())
	}
	mustPanic(t, "cuda: Buffer.Free of a view; free the buffer Alloc returned", func() { v.Free() })
	mustPanic(t, "cuda: Buffer.CopyFrom: src.Len() = 2, want 4, the buffer's length", func() { b.CopyFrom(nil, v) })
	b.mem.freed.Store(true)
	mustPanic(t, "cuda: Buffer.CopyFromHost on a freed buffer", func() { b.CopyFromHost(make([]float32, 4)) })
	mustPanic(t, "cuda: Sgemm on a freed buffer", func() { Sgemm(nil, 0, 0, 1, 1, 1, 1, b, 1, b, 1, 0, b, 1) })
	mustPanic(t, "cuda: Alloc: n = -1 < 0", func() { Alloc[float32](nil, -1) })
	mustPanic(t, "cuda: AllocHost: n = -2 < 0", func() { AllocHost[int32](nil, -2) })
	h := &HostBuffer[float32]{data: make([]float32, 3)}
	mustPanic(t, "cuda: Buffer.Upload: host buffer of length 3, want 4, the device buffer's length", func() {
		(&Buffer[float32]{n: 4, mem: &allocation{}}).Upload(nil, h)
	})
	if !slices.Equal(h.Data(), make([]float32, 3)) || h.Len() != 3 {
		t.Error("host buffer data")
	}
}

func TestStreamPanics(t *testing.T) {
	c1, c2 := &Context{}, &Context{}
	s := &Stream{ctx: c1, h: 1}
	b := &Buffer[float32]{ctx: c2, n: 4, mem: &allocation{}}
	mustPanic(t, "cuda: Buffer.Fill: buffer or function of another context than the stream's", func() { b.Fill(s, 1) })
	mustPanic(t, "cuda: Sgemm: buffer or function of another context than the stream's", func() {
		Sgemm(s, 0, 0, 2, 2, 1, 1, b, 1, b, 2, 0, b, 2)
	})
	s.h = 0
	mustPanic(t, "cuda: Buffer.Fill on a destroyed stream", func() { (&Buffer[float32]{ctx: c1, n: 4, mem: &allocation{}}).Fill(s, 1) })
}

func TestStatsLen(t *testing.T) {
	for rows, want := range map[int]int{0: 0, 1: 2, 8: 2, 9: 4, 1500: 376} {
		if got := StatsLen(rows); got != want {
			t.Errorf("StatsLen(%d) = %d, want %d", rows, got, want)
		}
	}
	if l, h := SumStats([]float32{0.5, 1, 0.25, 2, 1e-8, 0}); l != 0.75+float64(float32(1e-8)) || h != 3 {
		t.Errorf("SumStats = %v, %v", l, h)
	}
}

// TestKernelsFunction checks which form of an SGEMM kernel a product
// runs on: the sm80/ form with A transposed and B not, where it is
// loaded, the portable form otherwise and for every other kernel.
func TestKernelsFunction(t *testing.T) {
	portable, sm80 := &Function{name: "portable"}, &Function{name: "sm80"}
	ks := &Kernels{fns: map[*ptx.Kernel]*Function{ptx.Sgemm64: portable, ptx.BiasAct: portable}, tn: map[*ptx.Kernel]*Function{ptx.Sgemm64: sm80}}
	big := operand{ptr: 1 << 20, n: 1 << 20, ok: true}
	for _, x := range []struct {
		tA, tB gemm.Transpose
		want   *Function
	}{
		{gemm.Trans, gemm.NoTrans, sm80},
		{gemm.NoTrans, gemm.NoTrans, portable},
		{gemm.NoTrans, gemm.Trans, portable},
		{gemm.Trans, gemm.Trans, portable},
	} {
		l := sgemmLaunch(x.tA, x.tB, 10, 10, 10, 1, big, 10, big, 10, 0, big, 10)
		l.kernel = ptx.Sgemm64
		if got := ks.function(l); got != x.want {
			t.Errorf("%v%v: the %s form, want %s", x.tA, x.tB, got.name, x.want.name)
		}
		ks2 := &Kernels{fns: ks.fns}
		if got := ks2.function(l); got != portable {
			t.Errorf("%v%v without sm80/ forms: the %s form", x.tA, x.tB, got.name)
		}
	}
	ks.fns[ptx.Scale], ks.tn[ptx.Scale] = portable, sm80
	bias := &launch{kernel: ptx.BiasAct, args: make([]Arg, 12), tn: true}
	for _, l := range []*launch{bias, scaleLaunch(big, 10, 10, 10, 0)} {
		if got := ks.function(l); got != portable {
			t.Errorf("%s: the %s form", l.kernel.Name, got.name)
		}
	}
}
