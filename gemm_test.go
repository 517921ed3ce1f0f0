package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// sgemmFunc is one implementation under test.
type sgemmFunc func(tA, tB Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// serialWith returns the single-threaded Sgemm forced onto one kernel. The
// returned function keeps its workspace and is not safe for concurrent use.
func serialWith(kern *kernel) sgemmFunc {
	var ws workspace
	return func(tA, tB Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		p := newProblem(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		if p.trivial() {
			p.scaleC(0, m)
			return
		}
		pl := p.plan(kern)
		pl.run(&ws, 0, m, 0, n)
	}
}

// guard marks memory that must not be written.
var guard = math.Float32frombits(0x7fc0dead) // a NaN with a payload

// matrix is a rows×cols matrix stored with leading dimension ld, filled with
// random values and with guard values in the padding and past the end.
type matrix struct {
	rows, cols, ld int
	data           []float32
}

const tail = 7 // guard elements past the last row

func newMatrix(rng *rand.Rand, rows, cols, pad int) matrix {
	ld := max(1, cols+pad)
	size := 0
	if rows > 0 && cols > 0 {
		size = (rows-1)*ld + cols
	}
	x := matrix{rows, cols, ld, make([]float32, size+tail)}
	for i := range x.data {
		x.data[i] = guard
	}
	for i := range rows {
		for j := range cols {
			x.data[i*ld+j] = float32(rng.NormFloat64())
		}
	}
	return x
}

func (x matrix) at(i, j int) float32 { return x.data[i*x.ld+j] }

// op returns element (i, j) of op(x).
func (x matrix) op(t Transpose, i, j int) float32 {
	if t == Trans {
		return x.at(j, i)
	}
	return x.at(i, j)
}

// checkGuards fails if any element outside the matrix changed.
func (x matrix) checkGuards(t *testing.T, name string) {
	t.Helper()
	for idx, v := range x.data {
		i, j := idx/x.ld, idx%x.ld
		inside := i < x.rows && j < x.cols
		if !inside && math.Float32bits(v) != math.Float32bits(guard) {
			t.Fatalf("%s: element %d (row %d, col %d) outside the matrix was written: %v", name, idx, i, j, v)
		}
	}
}

type gemmCase struct {
	tA, tB      Transpose
	m, n, k     int
	alpha, beta float32
	padA, padB  int
	padC        int
	nanC        bool // fill C with NaN (only meaningful with beta = 0)
	nanA, infB  bool // put a NaN in A and an Inf in B
}

func (c gemmCase) String() string {
	return fmt.Sprintf("%v%v/m=%d/n=%d/k=%d/alpha=%v/beta=%v/pad=%d,%d,%d", c.tA, c.tB, c.m, c.n, c.k, c.alpha, c.beta, c.padA, c.padB, c.padC)
}

// inputs builds the operands of a case.
func (gc gemmCase) inputs(seed uint64) (a, b, c matrix) {
	rng := rand.New(rand.NewPCG(seed, uint64(gc.m*1000003+gc.n*1009+gc.k)))
	ar, ac := gc.m, gc.k
	if gc.tA == Trans {
		ar, ac = gc.k, gc.m
	}
	br, bc := gc.k, gc.n
	if gc.tB == Trans {
		br, bc = gc.n, gc.k
	}
	a = newMatrix(rng, ar, ac, gc.padA)
	b = newMatrix(rng, br, bc, gc.padB)
	c = newMatrix(rng, gc.m, gc.n, gc.padC)
	if gc.nanC {
		for i := range gc.m {
			for j := range gc.n {
				c.data[i*c.ld+j] = float32(math.NaN())
			}
		}
	}
	if gc.nanA && ar > 0 && ac > 0 {
		a.data[(ar/2)*a.ld+ac/2] = float32(math.NaN())
	}
	if gc.infB && br > 0 && bc > 0 {
		b.data[(br/3)*b.ld+bc/3] = float32(math.Inf(1))
	}
	return a, b, c
}

// check runs f on the case and compares C with a float64 reference.
func (gc gemmCase) check(t *testing.T, f sgemmFunc) {
	t.Helper()
	a, b, c := gc.inputs(1)
	c0 := append([]float32(nil), c.data...)
	f(gc.tA, gc.tB, gc.m, gc.n, gc.k, gc.alpha, a.data, a.ld, b.data, b.ld, gc.beta, c.data, c.ld)
	c.checkGuards(t, gc.String())
	const eps = 0x1p-24
	for i := range gc.m {
		for j := range gc.n {
			var sum, mag float64
			if gc.alpha != 0 {
				for p := range gc.k {
					x := float64(a.op(gc.tA, i, p)) * float64(b.op(gc.tB, p, j))
					sum += x
					mag += math.Abs(x)
				}
			}
			old := float64(c0[i*c.ld+j])
			want := float64(gc.alpha) * sum
			tol := float64(gc.k+2) * eps * math.Abs(float64(gc.alpha)) * mag
			if gc.beta != 0 {
				want += float64(gc.beta) * old
				// Each KC block's sum is rounded onto C again.
				tol += float64(gc.k+2) * eps * math.Abs(float64(gc.beta)*old)
			}
			tol += 2 * eps * math.Abs(want) // rounding the sum to float32
			got := float64(c.at(i, j))
			if math.IsNaN(want) || math.IsInf(want, 0) {
				if !math.IsNaN(got) && got != want {
					t.Fatalf("%v: C[%d][%d] = %v, want %v", gc, i, j, got, want)
				}
				continue
			}
			if math.IsNaN(got) || math.Abs(got-want) > tol+1e-30 {
				t.Fatalf("%v: C[%d][%d] = %v, want %v ± %v", gc, i, j, got, want, tol)
			}
		}
	}
}

// sizes returns the sizes worth testing for one dimension: tiny ones,
// primes, and the tile and block sizes ±1, in a fixed order.
func sizes(tile, block int) []int {
	var out []int
	seen := map[int]bool{}
	for _, s := range []int{0, 1, tile - 1, tile + 1, block + 1, 2, 7, 13, tile, 2*tile + 1, block - 1, block, 31, 37} {
		if s >= 0 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// implementations lists every implementation under test: each kernel
// serially, and each kernel through Tilers.
func implementations() map[string]sgemmFunc {
	impls := map[string]sgemmFunc{"Sgemm": Sgemm}
	for _, kern := range kernels {
		impls["serial/"+kern.name] = serialWith(kern)
	}
	return impls
}

// TestSgemmShapes runs every kernel over sizes around its register tile
// (MR±1, NR±1) and its cache blocks (KC±1, MC±1, NC±1), with blocks made
// small so that the reference stays quick, and primes.
func TestSgemmShapes(t *testing.T) {
	for _, kern := range kernels {
		t.Run(kern.name, func(t *testing.T) {
			kb := kern.withBlocking(blocking{kc: 24, mc: 3 * kern.mr, nc: 3 * kern.nr})
			f := serialWith(kb)
			ms := sizes(kb.mr, kb.mc)
			// Column counts that end in each narrow kernel: in mid, or in a
			// half followed by a quarter where a kernel has no mid.
			ns := append(sizes(kb.nr, kb.nc), kb.nr/4, kb.nr/4+1, kb.nr/2+1, 3*kb.nr/4, 3*kb.nr/4+1, kb.nr+kb.nr/4+1)
			ks := []int{0, 1, 2, 7, kb.kc - 1, kb.kc, kb.kc + 1, 53}
			if testing.Short() {
				ms, ns, ks = ms[:8], ns[:8], ks[:6]
			}
			for _, tA := range []Transpose{NoTrans, Trans} {
				for _, tB := range []Transpose{NoTrans, Trans} {
					for _, m := range ms {
						for _, n := range ns {
							for _, k := range ks {
								gemmCase{tA: tA, tB: tB, m: m, n: n, k: k, alpha: 1, beta: 0.5, padA: m % 3, padB: n % 2, padC: 3}.check(t, f)
							}
						}
					}
				}
			}
		})
	}
}

func TestSgemmAlphaBeta(t *testing.T) {
	vals := []float32{0, 1, -1, 0.5, 1.7}
	for name, f := range implementations() {
		t.Run(name, func(t *testing.T) {
			for _, alpha := range vals {
				for _, beta := range vals {
					for _, tA := range []Transpose{NoTrans, Trans} {
						for _, tB := range []Transpose{NoTrans, Trans} {
							gemmCase{tA: tA, tB: tB, m: 29, n: 41, k: 23, alpha: alpha, beta: beta, padC: 5}.check(t, f)
						}
					}
				}
			}
		})
	}
}

func TestSgemmBlocks(t *testing.T) {
	for _, kern := range kernels {
		t.Run(kern.name, func(t *testing.T) {
			// Small blocks, so that modest sizes cross every cache block
			// (MC, KC, NC) several times, with ragged ends.
			small := kern.withBlocking(blocking{kc: 16, mc: 2 * kern.mr, nc: 2 * kern.nr})
			f := serialWith(small)
			for _, tA := range []Transpose{NoTrans, Trans} {
				for _, tB := range []Transpose{NoTrans, Trans} {
					gemmCase{tA: tA, tB: tB, m: 5*kern.mr + 1, n: 5*kern.nr + 3, k: 16*3 + 5, alpha: 1, beta: 1, padA: 3, padC: 1}.check(t, f)
					gemmCase{tA: tA, tB: tB, m: 4*kern.mr - 1, n: 4*kern.nr - 1, k: 16*2 - 1, alpha: -1, beta: 0, nanC: true}.check(t, f)
				}
			}
			// The real blocking, crossing KC and MC.
			gemmCase{m: kern.mc + 3, n: 2*kern.nr + 1, k: kern.kc + 5, alpha: 1, beta: 1, padB: 1}.check(t, serialWith(kern))
		})
	}
}

func TestSgemmSpecialValues(t *testing.T) {
	for name, f := range implementations() {
		t.Run(name, func(t *testing.T) {
			// beta = 0 overwrites NaN in C.
			gemmCase{m: 17, n: 35, k: 9, alpha: 1, beta: 0, nanC: true, padC: 2}.check(t, f)
			gemmCase{tA: Trans, m: 13, n: 33, k: 300, alpha: 0.5, beta: 0, nanC: true}.check(t, f)
			// alpha = 0 with beta = 0 writes zeros, even over NaN.
			gemmCase{m: 5, n: 6, k: 7, alpha: 0, beta: 0, nanC: true}.check(t, f)
			// NaN and Inf in A and B propagate.
			gemmCase{m: 25, n: 40, k: 19, alpha: 1, beta: 1, nanA: true, infB: true}.check(t, f)
			gemmCase{tA: Trans, tB: Trans, m: 25, n: 40, k: 19, alpha: 1, beta: 0, nanA: true, infB: true}.check(t, f)
		})
	}
}

// TestAlphaZeroReadsNothing checks that A and B are not read when alpha is
// zero: they are nil although their shapes have elements.
func TestAlphaZeroReadsNothing(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	// A and B are short of what the shape needs only in the sense that the
	// product is not computed; the argument rules still apply, so use full
	// slices filled with NaN instead.
	nan := float32(math.NaN())
	a := []float32{nan, nan, nan, nan}
	b := []float32{nan, nan, nan, nan}
	Sgemm(NoTrans, NoTrans, 2, 2, 2, 0, a, 2, b, 2, 2, c, 2)
	for i, want := range []float32{2, 4, 6, 8} {
		if c[i] != want {
			t.Fatalf("c[%d] = %v, want %v", i, c[i], want)
		}
	}
}

func TestSgemmEmptyOperandsNil(t *testing.T) {
	// k = 0: A and B have no elements and may be nil.
	c := []float32{1, 2, 3, 4, 5, 6}
	Sgemm(NoTrans, NoTrans, 2, 3, 0, 1, nil, 1, nil, 3, 2, c, 3)
	for i, v := range c {
		if v != float32(2*(i+1)) {
			t.Fatalf("k = 0: c[%d] = %v, want %v", i, v, 2*(i+1))
		}
	}
	// m = 0: nothing to compute, C may be nil.
	Sgemm(NoTrans, NoTrans, 0, 3, 2, 1, nil, 2, make([]float32, 6), 3, 0, nil, 3)
}

func TestSgemmPanics(t *testing.T) {
	a := make([]float32, 12)
	b := make([]float32, 12)
	c := make([]float32, 12)
	cases := []struct {
		want string
		f    func()
	}{
		{"m = -1 < 0", func() { Sgemm(NoTrans, NoTrans, -1, 3, 4, 1, a, 4, b, 3, 0, c, 3) }},
		{"n = -2 < 0", func() { Sgemm(NoTrans, NoTrans, 3, -2, 4, 1, a, 4, b, 3, 0, c, 3) }},
		{"k = -3 < 0", func() { Sgemm(NoTrans, NoTrans, 3, 3, -3, 1, a, 4, b, 3, 0, c, 3) }},
		{"lda = 3 < max(1, 4)", func() { Sgemm(NoTrans, NoTrans, 3, 3, 4, 1, a, 3, b, 3, 0, c, 3) }},
		{"lda = 2 < max(1, 3)", func() { Sgemm(Trans, NoTrans, 3, 3, 4, 1, a, 2, b, 3, 0, c, 3) }},
		{"ldb = 2 < max(1, 3)", func() { Sgemm(NoTrans, NoTrans, 3, 3, 4, 1, a, 4, b, 2, 0, c, 3) }},
		{"ldc = 0 < max(1, 0)", func() { Sgemm(NoTrans, NoTrans, 3, 0, 4, 1, a, 4, b, 1, 0, c, 0) }},
		{"len(a) = 12 < 14", func() { Sgemm(NoTrans, NoTrans, 3, 3, 4, 1, a, 5, b, 3, 0, c, 3) }},
		{"len(b) = 12 < 15", func() { Sgemm(NoTrans, NoTrans, 3, 3, 4, 1, a, 4, b, 4, 0, c, 3) }},
		{"len(c) = 8 < 9", func() { Sgemm(NoTrans, NoTrans, 3, 3, 4, 1, a, 4, b, 3, 0, c[:8], 3) }},
		{"tA = 2 is neither", func() { Sgemm(2, NoTrans, 3, 3, 4, 1, a, 4, b, 3, 0, c, 3) }},
		{"workers = 0 < 1", func() { NewTiler(0, Auto) }},
		{"workers = 70000 > 65534", func() { NewTiler(70000, Auto) }},
		{"unknown strategy 9", func() { NewTiler(1, 9) }},
	}
	for _, tc := range cases {
		msg := catch(tc.f)
		if !strings.Contains(msg, tc.want) {
			t.Errorf("panic %q, want it to contain %q", msg, tc.want)
		}
	}
	// Nothing is written before the checks pass.
	c2 := []float32{7, 7, 7, 7}
	catch(func() { Sgemm(NoTrans, NoTrans, 2, 2, 2, 1, a, 2, b[:3], 2, 0, c2, 2) })
	for _, v := range c2 {
		if v != 7 {
			t.Fatalf("C written before a panic: %v", c2)
		}
	}
}

func catch(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return "no panic"
}

// TestReadInPlace checks that reading A and B in place gives bitwise the
// result of packing them, for every kernel that can, and that strides
// whose rows collide in the cache fall back to packing.
func TestReadInPlace(t *testing.T) {
	if rowsSpread(1024, 12) || !rowsSpread(784, 12) {
		t.Fatalf("rowsSpread: want false for ld 1024 and true for ld 784")
	}
	// B is read in place when its rows spread over the cache sets, unless
	// each row is on a page of its own and many rows of A reuse it.
	for _, c := range []struct {
		m, ldb  int
		inPlace bool
	}{{100, 10000, true}, {511, 1999, true}, {512, 1000, true}, {512, 1999, false}, {2000, 2048, false}, {2000, 784, true}} {
		p := problem{m: c.m, n: 100, k: 50, lda: 50, ldb: c.ldb, ldc: 100}
		if pl := p.plan(bestKernel); pl.packB == c.inPlace {
			t.Errorf("m = %d, ldb = %d: packB = %v, want %v", c.m, c.ldb, pl.packB, !c.inPlace)
		}
	}
	for _, kern := range kernels {
		kb := kern.withBlocking(blocking{kc: 32, mc: 3 * kern.mr, nc: 3 * kern.nr})
		for _, gc := range []gemmCase{
			{m: 3*kern.mr + 1, n: 5*kern.nr/2 + 1, k: 70, alpha: 1, beta: 0.5, padA: 2},
			{m: 2 * kern.mr, n: 2*kern.nr - 3, k: 33, alpha: -1, beta: 0, padB: 5},
			{m: 7, n: 1024 - 5, k: 5, alpha: 1, beta: 1, padA: 1019}, // lda = 1024: A packed
			{tA: Trans, m: 3*kern.mr - 1, n: 2*kern.nr + 5, k: 41, alpha: 0.5, beta: 1, padA: 3},
			{tA: Trans, tB: Trans, m: 2 * kern.mr, n: kern.nr/2 + 1, k: 65, alpha: 1, beta: 0},
		} {
			gc.check(t, serialWith(kb))
			for _, mode := range []struct{ packA, packB bool }{{true, true}, {false, true}, {true, false}, {false, false}} {
				a, b, c := gc.inputs(1)
				p := newProblem(gc.tA, gc.tB, gc.m, gc.n, gc.k, gc.alpha, a.data, a.ld, b.data, b.ld, gc.beta, c.data, c.ld)
				pl := p.plan(kb)
				if mode.packA {
					pl.aInPlace = false
				} else if !pl.aInPlace {
					continue
				}
				if !mode.packB && gc.tB == Trans {
					continue // a transposed B is always packed
				}
				pl.packB = mode.packB
				var ws workspace
				pl.run(&ws, 0, gc.m, 0, gc.n)
				if want := runCase(gc, serialWith(kb)); !sameBits(c.data, want) {
					t.Fatalf("%s %v packA=%v packB=%v: differs from the default plan", kern.name, gc, mode.packA, mode.packB)
				}
			}
		}
	}
}
