package ptx_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gokernels/gemm/ptx"
	"github.com/gokernels/gemm/ptx/ptxsim"
	ref "github.com/gokernels/gemm/ptx/ptxtest"
)

// The tests in sim_*_test.go run the kernels in the PTX simulator against
// the references of package ref. The same kernels run on a GPU in the tests
// of package cuda when one is present.

func simModule(t testing.TB, m *ptx.Module) *ptxsim.Module {
	t.Helper()
	mod, err := ptxsim.Parse(m.Source)
	if err != nil {
		t.Fatalf("%s: %v", m.File, err)
	}
	return mod
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

func nan() float32 { return float32(math.NaN()) }

// alloc stores v in mem off elements after a 256-byte aligned address and
// returns the address of v[0].
func alloc(mem *ptxsim.Memory, v []float32, off int) uint64 {
	a := mem.Alloc(4 * (len(v) + off))
	mem.WriteFloat32s(a+uint64(4*off), v)
	return a + uint64(4*off)
}

type gemmCase struct {
	tA, tB        bool
	m, n, k       int
	padA, padB    int // added to the minimal leading dimension
	padC          int
	offA, offB    int // elements between the aligned allocation and the matrix
	offC          int
	alpha, beta   float32
	poisonC       bool // fill C with NaN (with beta == 0)
	kslice        int  // > 0: split k into slices this long
	tile          int  // 128 (sgemm) or 64 (sgemm64)
	async         bool // the sm_80 form (sm80/)
	wantVectorish bool
}

func (c gemmCase) String() string {
	tr := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	sm := ""
	if c.async {
		sm = "/sm80"
	}
	return fmt.Sprintf("tile=%d%s/%s%s/m=%d/n=%d/k=%d/pad=%d,%d,%d/off=%d,%d,%d/alpha=%g/beta=%g/kslice=%d",
		c.tile, sm, tr(c.tA), tr(c.tB), c.m, c.n, c.k, c.padA, c.padB, c.padC, c.offA, c.offB, c.offC, c.alpha, c.beta, c.kslice)
}

// simGemm launches case c's product on the operands at pa, pb and pc:
// sgemm or sgemm64, with the epilogue act, y, ldy, and, when c.kslice
// splits k, a workspace: the tiles' counters, then the partial products
// (NaN, so that one left unwritten shows).
func simGemm(t *testing.T, mods gemmMods, mem *ptxsim.Memory, c gemmCase, pa uint64, lda int, pb uint64, ldb int, pc uint64, ldc int, act int, py uint64, ldy int) {
	t.Helper()
	mod, name := mods.kernel(c)
	var trans uint64
	if c.tA {
		trans |= 1
	}
	if c.tB {
		trans |= 2
	}
	grid := ptxsim.Dim3{X: (c.n + c.tile - 1) / c.tile, Y: (c.m + c.tile - 1) / c.tile, Z: 1}
	tiles := grid.X * grid.Y
	// Unsplit: one slice of k, no workspace. Split: the tiles' counters,
	// then NaN partials.
	// The partials start 16-byte aligned, W_z at z*mn4 floats (m*n
	// rounded up to 4), and the buffer ends with the last one.
	kslice, pw, pparts := uint64(c.k), uint64(0), uint64(0)
	if c.kslice > 0 {
		grid.Z = (c.k + c.kslice - 1) / c.kslice
		counters, mn4 := (tiles+3)&^3, (c.m*c.n+3)&^3
		w := make([]float32, counters+(grid.Z-1)*mn4+c.m*c.n)
		for i := range w[counters:] {
			w[counters+i] = nan()
		}
		kslice, pw = uint64(c.kslice), alloc(mem, w, 0)
		pparts = pw + uint64(4*counters)
	}
	err := mod.Launch(mem, name, grid, ptxsim.Dim3{X: 256},
		uint64(c.m), uint64(c.n), uint64(c.k), ptxsim.F32(c.alpha),
		pa, uint64(lda), pb, uint64(ldb), ptxsim.F32(c.beta), pc, uint64(ldc), trans,
		kslice, pparts, pw, uint64(act), py, uint64(ldy))
	if err != nil {
		t.Fatal(err)
	}
	if c.kslice == 0 {
		return
	}
	for i, v := range mem.Float32s(pw, tiles) {
		if v != 0 {
			t.Fatalf("counter %d is %#x after the launch, want 0", i, math.Float32bits(v))
		}
	}
}

// runGemmCase runs case c with its kernel (see gemmMods.kernel) and
// checks C against the float64 reference.
func runGemmCase(t *testing.T, mods gemmMods, c gemmCase) {
	r := rand.New(rand.NewPCG(uint64(c.m), uint64(c.n*1000+c.k)))
	ar, ac, br, bc := ref.Stored(c.tA, c.tB, c.m, c.n, c.k)
	lda, ldb, ldc := max(ac, 1)+c.padA, max(bc, 1)+c.padB, max(c.n, 1)+c.padC
	a := randSlice(r, max(ar*lda, 1))
	b := randSlice(r, max(br*ldb, 1))
	cv := randSlice(r, max(c.m*ldc, 1))
	const guard = 12345.5
	for i := range c.m {
		for j := c.n; j < ldc; j++ {
			cv[i*ldc+j] = guard // between rows: must stay
		}
		if c.poisonC {
			for j := range c.n {
				cv[i*ldc+j] = nan()
			}
		}
	}
	mem := ptxsim.NewMemory()
	pa, pb, pc := alloc(mem, a, c.offA), alloc(mem, b, c.offB), alloc(mem, cv, c.offC)
	simGemm(t, mods, mem, c, pa, lda, pb, ldb, pc, ldc, 0, 0, 0)
	got := mem.Float32s(pc, len(cv))
	want := append([]float32(nil), cv...)
	bound := ref.Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, want, ldc)
	bad := 0
	for i := range got {
		e := bound[i]
		ok := got[i] == want[i] || math.Abs(float64(got[i])-float64(want[i])) <= e
		if !ok {
			if bad++; bad <= 5 {
				t.Errorf("C[%d,%d] = %v, want %v (bound %g)", i/ldc, i%ldc, got[i], want[i], e)
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d wrong elements in all", bad)
	}
}

// gemmMods are the SGEMM modules, parsed: sgemm.ptx and sgemm64.ptx, and
// their sm_80 forms.
type gemmMods struct {
	portable, sm80 [2]*ptxsim.Module
}

// kernel returns case c's module and entry: sgemm (tile 128) or sgemm64,
// portable or, if c.async, the sm_80 form.
func (m gemmMods) kernel(c gemmCase) (*ptxsim.Module, string) {
	ms := m.portable
	if c.async {
		ms = m.sm80
	}
	if c.tile == 64 {
		return ms[1], "sgemm64"
	}
	return ms[0], "sgemm"
}

// gemmModules parses the SGEMM modules.
func gemmModules(t testing.TB) gemmMods {
	return gemmMods{
		portable: [2]*ptxsim.Module{simModule(t, ptx.SgemmModule), simModule(t, ptx.Sgemm64Module)},
		sm80:     [2]*ptxsim.Module{simModule(t, ptx.SgemmSM80Module), simModule(t, ptx.Sgemm64SM80Module)},
	}
}

// gemmKernels are the four SGEMM kernels: tile, and portable or sm_80.
var gemmKernels = []struct {
	tile  int
	async bool
}{{128, false}, {64, false}, {128, true}, {64, true}}

// runGemmCases runs every case with every kernel.
func runGemmCases(t *testing.T, cases []gemmCase) {
	mods := gemmModules(t)
	kernels := gemmKernels
	if testing.Short() {
		kernels = kernels[1:3] // both tiles, both forms
	}
	for _, k := range kernels {
		for _, c := range cases {
			c.tile, c.async = k.tile, k.async
			t.Run(c.String(), func(t *testing.T) { runGemmCase(t, mods, c) })
		}
	}
}

func TestSimSgemm(t *testing.T) {
	var cases []gemmCase
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			// Not multiples of the tile, unaligned rows (scalar loads).
			cases = append(cases, gemmCase{tA: tA, tB: tB, m: 131, n: 130, k: 19, padA: 1, padB: 3, padC: 2, alpha: 1.5, beta: -0.5})
			// Aligned everywhere (float4 loads and stores), beta == 0 over NaN.
			cases = append(cases, gemmCase{tA: tA, tB: tB, m: 132, n: 136, k: 24, alpha: 1, beta: 0, poisonC: true})
			// Misaligned base pointers with aligned leading dimensions.
			cases = append(cases, gemmCase{tA: tA, tB: tB, m: 7, n: 9, k: 13, padA: 4, padB: 4, padC: 4, offA: 1, offB: 2, offC: 3, alpha: -2, beta: 1})
		}
	}
	cases = append(cases,
		gemmCase{m: 1, n: 1, k: 1, alpha: 1, beta: 0},
		gemmCase{m: 3, n: 2, k: 0, alpha: 1, beta: 2}, // k == 0: beta*C
		gemmCase{tA: true, m: 1, n: 300, k: 5, alpha: 1, beta: 0, poisonC: true},
		gemmCase{tB: true, m: 260, n: 3, k: 33, alpha: 0.25, beta: 0, poisonC: true},
		// sgemm64's tile and k step ± 1.
		gemmCase{m: 65, n: 63, k: 17, padA: 2, alpha: 1, beta: 0.5},
		gemmCase{tA: true, tB: true, m: 63, n: 65, k: 15, alpha: 1, beta: 0, poisonC: true},
	)
	if testing.Short() {
		cases = cases[:4]
	}
	runGemmCases(t, cases)
}

// TestSimSgemmSplit runs products split along k: a grid of several slices
// whose partial products the last block of each tile sums.
func TestSimSgemmSplit(t *testing.T) {
	var cases []gemmCase
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			// 3 slices, the last shorter; unaligned rows; beta != 0.
			cases = append(cases, gemmCase{tA: tA, tB: tB, m: 131, n: 130, k: 83, padA: 1, padB: 3, padC: 2, alpha: 1.5, beta: -0.5, kslice: 32})
			// Aligned (float4 loads), beta == 0 over NaN, 4 slices (pairs).
			cases = append(cases, gemmCase{tA: tA, tB: tB, m: 36, n: 40, k: 64, alpha: 1, beta: 0, poisonC: true, kslice: 16})
		}
	}
	cases = append(cases,
		// Misaligned bases, a slice not a multiple of 4, 5 slices.
		gemmCase{m: 7, n: 9, k: 45, padA: 4, padB: 4, padC: 4, offA: 1, offB: 2, offC: 3, alpha: -2, beta: 1, kslice: 9},
		gemmCase{tA: true, tB: true, m: 29, n: 3, k: 17, alpha: 1, beta: 0, poisonC: true, kslice: 8},
	)
	if testing.Short() {
		cases = cases[:3]
	}
	runGemmCases(t, cases)
}

func TestSimScale(t *testing.T) {
	mod := simModule(t, ptx.SgemmModule)
	for _, beta := range []float32{0, 2, -0.5} {
		m, n, ldc := 19, 37, 40
		r := rand.New(rand.NewPCG(1, 2))
		c := randSlice(r, m*ldc)
		if beta == 0 {
			for i := range c {
				c[i] = nan()
			}
		}
		for i := range m {
			c[i*ldc+n] = 7 // guard
		}
		mem := ptxsim.NewMemory()
		pc := alloc(mem, c, 0)
		// A grid shorter than the rows: the kernel walks the rest.
		if err := mod.Launch(mem, "scale", ptxsim.Dim3{X: 2, Y: 1}, ptxsim.Dim3{X: 32, Y: 8},
			pc, uint64(m), uint64(n), uint64(ldc), ptxsim.F32(beta)); err != nil {
			t.Fatal(err)
		}
		got := mem.Float32s(pc, len(c))
		ref.Scale(c, m, n, ldc, beta)
		for i := range c {
			if i%ldc >= n+1 {
				continue
			}
			if got[i] != c[i] && !(got[i] != got[i] && c[i] != c[i]) {
				t.Fatalf("beta %g: C[%d] = %v, want %v", beta, i, got[i], c[i])
			}
		}
	}
}

// TestSimSgemmEpilogue checks the fused epilogues of sgemm and sgemm64,
// split or not, against the unfused launches: the product into C, then
// bias_act (act(C), no bias) or act_grad (C·act'(Y)). They must give the
// same bits (but for the sign of a zero, which bias_act's +0 bias
// changes), for every activation, with and without a split, beta zero
// and not, and Y's rows padded and misaligned.
func TestSimSgemmEpilogue(t *testing.T) {
	mods := gemmModules(t)
	elem := simModule(t, ptx.ElementwiseModule)
	cases := []gemmCase{
		{m: 70, n: 45, k: 37, padA: 1, padC: 3, alpha: 1.5, beta: -0.5},
		{tA: true, tB: true, m: 9, n: 130, k: 20, alpha: 1, beta: 0, poisonC: true},
		{tA: true, m: 40, n: 33, k: 150, alpha: -1, beta: 0.25, kslice: 64},
		{tB: true, m: 33, n: 17, k: 90, alpha: 1, beta: 0, poisonC: true, kslice: 32},
	}
	kernels := gemmKernels
	if testing.Short() {
		kernels, cases = kernels[1:2], []gemmCase{cases[0], cases[2]}
	}
	for _, k := range kernels {
		for _, c := range cases {
			c.tile, c.async = k.tile, k.async
			for _, act := range []int{ptx.ActSigmoid, ptx.ActReLU, ptx.ActTanh} {
				for _, grad := range []bool{false, true} {
					t.Run(fmt.Sprintf("%v/act=%d/grad=%v", c, act, grad), func(t *testing.T) {
						runEpilogueCase(t, mods, elem, c, act, grad)
					})
				}
			}
		}
	}
}

func runEpilogueCase(t *testing.T, mods gemmMods, elem *ptxsim.Module, c gemmCase, act int, grad bool) {
	r := rand.New(rand.NewPCG(uint64(c.m+act), uint64(c.n*1000+c.k)))
	ar, ac, br, bc := ref.Stored(c.tA, c.tB, c.m, c.n, c.k)
	lda, ldb, ldc, ldy := max(ac, 1)+c.padA, max(bc, 1)+c.padB, c.n+c.padC, c.n+1
	a, b := randSlice(r, ar*lda), randSlice(r, br*ldb)
	cv := randSlice(r, c.m*ldc)
	for i := range cv {
		cv[i] *= 3 // both tanh regimes
		if c.poisonC && i%ldc < c.n {
			cv[i] = nan()
		}
	}
	y := randSlice(r, c.m*ldy+1)
	mem := ptxsim.NewMemory()
	pa, pb := alloc(mem, a, 0), alloc(mem, b, 0)
	fused, plain := alloc(mem, cv, 0), alloc(mem, cv, 0)
	py, ldyArg := uint64(0), 0
	if grad {
		py, ldyArg = alloc(mem, y, 1), ldy // misaligned rows
	}
	simGemm(t, mods, mem, c, pa, lda, pb, ldb, fused, ldc, act, py, ldyArg)
	simGemm(t, mods, mem, c, pa, lda, pb, ldb, plain, ldc, 0, 0, 0)
	g, bl := grid2D(c.m, c.n, math.MaxInt)
	var err error
	if grad {
		err = elem.Launch(mem, "act_grad", g, bl, plain, uint64(ldc), py, uint64(ldy), uint64(c.m), uint64(c.n), uint64(act))
	} else {
		err = elem.Launch(mem, "bias_act", g, bl, plain, 0, uint64(c.m), uint64(c.n), uint64(ldc), uint64(act))
	}
	if err != nil {
		t.Fatal(err)
	}
	got, want := mem.Float32s(fused, len(cv)), mem.Float32s(plain, len(cv))
	for i := range got {
		if got[i] != want[i] && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("C[%d, %d] = %v fused, %v unfused", i/ldc, i%ldc, got[i], want[i])
		}
	}
	// A test that cannot fail is a defect: the epilogue changed C.
	lin := append([]float32(nil), cv...)
	ref.Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, lin, ldc)
	if got[0] == lin[0] {
		t.Fatalf("C[0] = %v, the product without the epilogue", got[0])
	}
}

// TestSimSgemmSplitOrder checks that a split product's slices are added
// in the order of z, one after the other in float32, whichever block
// comes last (the simulator draws a new order of blocks each launch):
// partials chosen so that any other order gives another sum. Slice z of
// the 1×1×(8·slices) product has one non-zero term, W_z·1.
func TestSimSgemmSplitOrder(t *testing.T) {
	mods := gemmModules(t)
	for _, w := range [][]float32{
		{1e8, 1, -1e8, 1, 3, 0.5},           // in order: 4.5; (1e8 − 1e8) first: 5.5
		{1e8, 1, 1, 1, 1, -1e8, 2, 0.25, 4}, // 8.25 in order
	} {
		want := float32(0)
		for _, v := range w {
			want += v
		}
		k := 8 * len(w)
		a, b := make([]float32, k), make([]float32, k)
		for z, v := range w {
			a[8*z+3] = v
		}
		for i := range b {
			b[i] = 1
		}
		for _, kern := range gemmKernels {
			mem := ptxsim.NewMemory() // its launches run the blocks in different orders
			for range 3 {
				pa, pb, pc := alloc(mem, a, 0), alloc(mem, b, 0), alloc(mem, []float32{nan()}, 0)
				c := gemmCase{m: 1, n: 1, k: k, alpha: 1, kslice: 8, tile: kern.tile, async: kern.async}
				simGemm(t, mods, mem, c, pa, k, pb, 1, pc, 1, 0, 0, 0)
				if got := mem.Float32s(pc, 1)[0]; got != want {
					t.Errorf("%v: slices %v: sum %v, want %v (in order)", c, w, got, want)
				}
			}
		}
	}
}

// FuzzSimSgemm runs random products on random kernels in the simulator
// against the float64 reference: sizes across the tiles and k steps,
// every transpose pair, padded and misaligned operands in buffers of
// exactly their size (a read past them fails), splits along k, beta
// zero over NaN. The seed corpus runs with go test; go test -fuzz
// FuzzSimSgemm ./ptx searches further.
func FuzzSimSgemm(f *testing.F) {
	f.Add(uint8(70), uint8(33), uint8(20), uint8(0), uint8(1), uint8(2), uint8(3), uint8(0), uint8(0))
	f.Add(uint8(65), uint8(129), uint8(47), uint8(0b1011), uint8(0), uint8(4), uint8(0), uint8(0b10_01_00), uint8(3))
	f.Add(uint8(9), uint8(64), uint8(96), uint8(0b11110), uint8(3), uint8(0), uint8(1), uint8(0b00_11_01), uint8(2))
	f.Add(uint8(130), uint8(5), uint8(1), uint8(0b10111), uint8(0), uint8(0), uint8(0), uint8(0b11_00_10), uint8(0))
	mods := gemmModules(f)
	scalars := []float32{1, -0.5, 2, 0}
	f.Fuzz(func(t *testing.T, m, n, k, flags, padA, padB, padC, offs, split uint8) {
		c := gemmCase{
			tA: flags&1 != 0, tB: flags&2 != 0,
			m: 1 + int(m)%140, n: 1 + int(n)%140, k: int(k) % 100,
			padA: int(padA) % 5, padB: int(padB) % 5, padC: int(padC) % 5,
			offA: int(offs) & 3, offB: int(offs>>2) & 3, offC: int(offs>>4) & 3,
			alpha: scalars[flags>>5&1], beta: scalars[2+flags>>6&1],
		}
		kern := gemmKernels[flags>>2&3]
		c.tile, c.async = kern.tile, kern.async
		c.poisonC = c.beta == 0 && flags&16 != 0
		if s := int(split) % 4; s > 0 && c.k > 0 {
			c.kslice = 8 * s // 1 to 13 slices
		}
		runGemmCase(t, mods, c)
	})
}
