package cuda

import (
	"fmt"
	"math"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/ptx"
)

// Limits of the kernels' index arithmetic and grids.
const (
	maxDim     = math.MaxInt32
	maxGridY   = 65535
	maxSgemmM  = maxGridY * ptx.SgemmTile
	rowThreads = 256 // threads per block of the row kernels
)

// operand is what the argument checks need of a buffer.
type operand struct {
	ptr DevicePtr
	n   int
	ok  bool // not nil
	ctx *Context
}

func opnd[T Elem](op string, b *Buffer[T]) operand {
	if b == nil {
		return operand{}
	}
	b.live(op)
	return b.operand()
}

// operand returns b as an operand.
func (b *Buffer[T]) operand() operand { return operand{ptr: b.ptr, n: b.n, ok: true, ctx: b.ctx} }

// sameContext panics unless every buffer belongs to the stream's context.
func sameContext(op string, s *Stream, xs ...operand) {
	if s == nil {
		panic("cuda: " + op + " on a nil stream")
	}
	for _, x := range xs {
		if x.ok {
			s.check(op, x.ctx)
		}
	}
}

// Sgemm queues C = alpha·op(A)·op(B) + beta·C on stream s, where op(A) is
// m×k, op(B) is k×n and C is m×n, all row-major in device memory with
// leading dimensions lda, ldb and ldc: the semantics and argument rules of
// gemm.Sgemm.
//
// A is stored m×k when tA is gemm.NoTrans and k×m when it is gemm.Trans; B
// likewise k×n or n×k. Each leading dimension must be at least max(1,
// columns as stored), and each buffer must hold (rows−1)·ld + columns
// elements unless the matrix has no elements, in which case it may be nil.
// When beta is zero C is overwritten without being read, so it may hold
// NaN. When alpha is zero or k is zero, A and B are not read and C is only
// scaled by beta.
//
// A product with fewer 128×128 tiles of C than the device has
// multiprocessors runs on 64×64 tiles instead, and, when s has a workspace
// (see Stream.SetWorkspace) and k is long, is split along k: blocks work
// on slices of k and write their partial products to the workspace, and
// the last block of each tile to finish sums them in a fixed order, so
// that the result does not vary from run to run. How a product is tiled
// and split, and so its rounding, depends on the device and the
// workspace's length.
//
// Sgemm panics, naming the argument, when an argument is invalid or a
// buffer belongs to another context than s; it returns an error when the
// driver fails. The work is queued: wait for s before reading C on the
// host.
func Sgemm(s *Stream, tA, tB gemm.Transpose, m, n, k int, alpha float32, a *Buffer[float32], lda int, b *Buffer[float32], ldb int, beta float32, c *Buffer[float32], ldc int) error {
	return sgemm("Sgemm", s, Identity, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil, 0)
}

// SgemmAct queues C = act(alpha·op(A)·op(B) + beta·C) on stream s: Sgemm
// with a layer's activation applied as C is stored, with the arithmetic
// of BiasAct (so that it gives the bits of Sgemm followed by BiasAct with
// no bias, but for the sign of a zero that ReLU passes on: BiasAct adds a
// +0 bias first). act is Identity, Sigmoid, ReLU or Tanh; softmax is not
// element-wise (see SoftmaxRows). When alpha or k is zero, C =
// act(beta·C). Arguments and errors are as for Sgemm.
func SgemmAct(s *Stream, act Activation, tA, tB gemm.Transpose, m, n, k int, alpha float32, a *Buffer[float32], lda int, b *Buffer[float32], ldb int, beta float32, c *Buffer[float32], ldc int) error {
	return sgemm("SgemmAct", s, act, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil, 0)
}

// SgemmActGrad queues C = (alpha·op(A)·op(B) + beta·C) ⊙ act′(Y) on
// stream s, where Y (m×n, leading dimension ldy) holds the outputs of the
// activation act, and act′ is taken from them as ActGrad does (with its
// arithmetic): the gradient through a layer's activation, as the product
// that brings it back from the next layer is stored. act is Identity,
// Sigmoid, ReLU or Tanh. Y is not read when act is Identity and may then
// be nil. Arguments and errors are as for Sgemm.
func SgemmActGrad(s *Stream, act Activation, tA, tB gemm.Transpose, m, n, k int, alpha float32, a *Buffer[float32], lda int, b *Buffer[float32], ldb int, beta float32, c *Buffer[float32], ldc int, y *Buffer[float32], ldy int) error {
	if y == nil && act != Identity {
		panic(fmt.Sprintf("cuda: SgemmActGrad: y is nil, needed for the derivative of %v", act))
	}
	return sgemm("SgemmActGrad", s, act, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, y, ldy)
}

// sgemm is Sgemm, SgemmAct (y nil) and SgemmActGrad (y not nil).
func sgemm(op string, s *Stream, act Activation, tA, tB gemm.Transpose, m, n, k int, alpha float32, a *Buffer[float32], lda int, b *Buffer[float32], ldb int, beta float32, c *Buffer[float32], ldc int, y *Buffer[float32], ldy int) error {
	oa, ob, oc, oy := opnd(op, a), opnd(op, b), opnd(op, c), opnd(op, y)
	l := sgemmLaunch(tA, tB, m, n, k, alpha, oa, lda, ob, ldb, beta, oc, ldc)
	if act != Identity || y != nil {
		l = sgemmEpilogue(op, l, act, m, n, beta, oc, ldc, oy, ldy)
	}
	sameContext(op, s, oa, ob, oc, oy)
	if l == nil {
		return nil
	}
	if l.kernel != ptx.Sgemm {
		return l.run(s)
	}
	var w operand
	if s.work != nil {
		// Not through opnd: its name for the workspace would be built on
		// every call.
		if s.work.mem.freed.Load() {
			panic("cuda: " + op + " (the stream's workspace) on a freed buffer")
		}
		w = s.work.operand()
	}
	return sgemmPlan(l, w, s.ctx.dev).run(s)
}

// sgemmEpilogue checks act and Y (y.ok false: no Y) and returns the launch
// that computes the product of the sgemm launch l (as sgemmLaunch made it,
// for an m×n C) with that epilogue: l with act, y and ldy set, or, where
// l scales C or does nothing (alpha or k zero), sgemm with k = 0, which
// stores act(beta·C) or beta·C·act′(Y) without reading A or B.
func sgemmEpilogue(op string, l *launch, act Activation, m, n int, beta float32, c operand, ldc int, y operand, ldy int) *launch {
	if act < Identity || act > Tanh {
		panic(fmt.Sprintf("cuda: %s: activation %v is not element-wise (Identity, Sigmoid, ReLU or Tanh)", op, act))
	}
	if y.ok {
		checkMat(op, "y", "ldy", m, n, y, ldy)
	}
	if m == 0 || n == 0 {
		return nil
	}
	if l == nil || l.kernel != ptx.Sgemm {
		// alpha or k is zero: sgemm with k = 0 stores the epilogue of beta·C.
		l = sgemmKernelLaunch(m, n, sgemmArgs(m, n, 0, 0, 0, 1, 0, 1, beta, c.ptr, ldc, 0))
	}
	l.args[sgemmAct] = U32(uint32(act))
	if y.ok {
		l.args[sgemmY] = Ptr(y.ptr)
		l.args[sgemmLdy] = U32(uint32(ldy))
	}
	return l
}

// minKSlice is the shortest slice of k a split gives a block: 8 steps of
// sgemm's k loop, 4 of sgemm64's, so that loading the first tiles and
// storing C stay a small part of a block's time.
const minKSlice = 64

// maxSplits is the most slices a split product has: the tile's last
// block adds them one after another, so that past some number the sum
// costs more than the shorter slices save. On an H200: TN 31×10×1500 in
// 4 slices 22.2 µs, 8 14.0, 16 11.6; 201×100×1500: 22.9, 15.8, 15.0 µs.
const maxSplits = 16

// Blocks of 256 threads that a multiprocessor holds at once (64K
// registers, from sm_52 to sm_90), at least: sgemm needs 112 to 131
// registers a thread (one block; two with the sm80/ form's 112 to 121),
// sgemm64 63 to 64 from sm_80 on and 72 on sm_52. TestPTXAS keeps them
// there.
const sgemmPerSM = 1

// sgemm64PerSM returns how many sgemm64 blocks a multiprocessor of
// compute capability cc (10·major + minor) holds at once: four on sm_80
// and sm_90 and later; three before sm_80 (registers; sm_75 also has 64
// KB of shared memory) and on sm_86 to sm_89, whose 100 KB of shared
// memory hold three of the sm80/ form's 26 KB.
func sgemm64PerSM(cc int) int {
	if cc == 80 || cc >= 90 {
		return 4
	}
	return 3
}

// sgemmShape is how Sgemm runs a product: its kernel and tile, and the
// number of slices of k, each kslice long (a multiple of 8; the last may
// be shorter).
type sgemmShape struct {
	kernel         *ptx.Kernel
	tile           int
	splits, kslice int
}

// sgemmCounters returns the number of words at the start of a workspace
// that hold the tiles' counters of a split product on a device with sms
// multiprocessors of compute capability cc: at least as many as a split
// product has tiles (a split needs at least two blocks a tile in one
// wave), rounded up to 256 bytes, where the partial products start.
func sgemmCounters(sms, cc int) int {
	return (sms*max(sgemmPerSM, sgemm64PerSM(cc)) + 63) &^ 63
}

// sgemmShapeFor returns how Sgemm runs an m×n×k product on a device with
// sms multiprocessors of compute capability cc and a workspace of work
// floats. sgemm runs it when its tiles give every multiprocessor a block,
// sgemm64 otherwise; it is split along k when the tiles leave room for
// more blocks in one wave, into at most maxSplits slices of at least
// minKSlice, as far as the counters and the partial products fit the
// workspace.
func sgemmShapeFor(m, n, k, sms, cc, work int) sgemmShape {
	sh := sgemmShape{kernel: ptx.Sgemm, tile: ptx.SgemmTile, splits: 1, kslice: k}
	if m <= 0 || n <= 0 {
		return sh
	}
	tiles := func(t int) int { return ((m + t - 1) / t) * ((n + t - 1) / t) }
	slots := sms * sgemmPerSM
	if tiles(sh.tile) < sms {
		sh.kernel, sh.tile, slots = ptx.Sgemm64, ptx.Sgemm64Tile, sms*sgemm64PerSM(cc)
	}
	if m*n >= 1<<30 {
		return sh // the kernels' sums index a slice in 32 bits
	}
	splits := min(slots/tiles(sh.tile), k/minKSlice, maxSplits, max(work-sgemmCounters(sms, cc), 0)/sgemmPart(m, n))
	if splits < 2 {
		return sh
	}
	sh.kslice, sh.splits = sgemmSlices(k, splits)
	return sh
}

// sgemmSlices divides k into up to splits slices, each a multiple of 8
// long, and returns their length and number.
func sgemmSlices(k, splits int) (kslice, n int) {
	kslice = ((k+splits-1)/splits + 7) &^ 7
	return kslice, (k + kslice - 1) / kslice
}

// SgemmWorkspace returns the workspace, in floats, with which Sgemm splits
// an m×n×k product on device d along k (see Stream.SetWorkspace), or 0
// when it does not split that product. A workspace of the largest value
// over a set of products serves them all.
func SgemmWorkspace(d *Device, m, n, k int) int {
	if m <= 0 || n <= 0 || k <= 0 {
		return 0
	}
	sh := sgemmShapeFor(m, n, k, d.SMs, d.cc(), math.MaxInt)
	if sh.splits < 2 {
		return 0
	}
	return sgemmCounters(d.SMs, d.cc()) + sh.splits*sgemmPart(m, n)
}

// sgemmPart returns the floats that a split m×n product's workspace
// holds for each slice: m*n rounded up to a multiple of 4, so that each
// slice's partial product starts 16-byte aligned (see ptx.Sgemm).
func sgemmPart(m, n int) int {
	return (m*n + 3) &^ 3
}

// sgemmPlan returns the launch that runs sgemm launch l on device d with
// the workspace w (w.ok false: none), as sgemmShapeFor decides for the
// product l's arguments describe.
func sgemmPlan(l *launch, w operand, d *Device) *launch {
	m, n, k := l.sgemmDims()
	return sgemmShaped(l, sgemmShapeFor(m, n, k, d.SMs, d.cc(), w.n), w, sgemmCounters(d.SMs, d.cc()))
}

// sgemmDims returns the m, n and k of sgemm launch l, from its arguments.
func (l *launch) sgemmDims() (m, n, k int) {
	u := func(i int) int { return int(uint32(l.args[i].bits)) }
	return u(sgemmM), u(sgemmN), u(sgemmK)
}

// sgemmShaped makes sgemm launch l, fresh from sgemmLaunch or
// sgemmEpilogue, run as sh says, and returns it: a split with the tiles'
// counters in the first counters words of w, and the partial products
// after them.
func sgemmShaped(l *launch, sh sgemmShape, w operand, counters int) *launch {
	m, n, _ := l.sgemmDims()
	t := uint32(sh.tile)
	l.kernel = sh.kernel
	l.grid = Dim3{X: (uint32(n) + t - 1) / t, Y: (uint32(m) + t - 1) / t, Z: 1}
	if sh.splits < 2 {
		return l
	}
	if tiles := int(l.grid.X * l.grid.Y); tiles > counters || counters+sh.splits*sgemmPart(m, n) > w.n {
		panic(fmt.Sprintf("cuda: internal error: a split of %d tiles × %d slices of %d×%d in a workspace of %d floats with %d counters", tiles, sh.splits, m, n, w.n, counters))
	}
	l.grid.Z = uint32(sh.splits)
	l.args[sgemmKSlice] = U32(uint32(sh.kslice))
	l.args[sgemmW] = Ptr(w.ptr + DevicePtr(4*counters))
	l.args[sgemmCounts] = Ptr(w.ptr)
	return l
}

// The positions of sgemm's arguments that a plan reads, or a split or an
// epilogue changes.
const (
	sgemmM      = 0
	sgemmN      = 1
	sgemmK      = 2
	sgemmKSlice = 12
	sgemmW      = 13
	sgemmCounts = 14
	sgemmAct    = 15
	sgemmY      = 16
	sgemmLdy    = 17
)

// sgemmArgs returns sgemm's arguments for an unsplit product with no
// epilogue.
func sgemmArgs(m, n, k int, alpha float32, a DevicePtr, lda int, b DevicePtr, ldb int, beta float32, c DevicePtr, ldc int, trans uint32) []Arg {
	return []Arg{
		U32(uint32(m)), U32(uint32(n)), U32(uint32(k)), F32(alpha),
		Ptr(a), U32(uint32(lda)), Ptr(b), U32(uint32(ldb)),
		F32(beta), Ptr(c), U32(uint32(ldc)), U32(trans),
		U32(uint32(k)), U64(0), U64(0), U32(0), U64(0), U32(0),
	}
}

// sgemmLaunch checks the arguments of Sgemm and returns the launch that
// computes the product: sgemm, scale (k == 0 or alpha == 0), or nil when
// nothing changes.
func sgemmLaunch(tA, tB gemm.Transpose, m, n, k int, alpha float32, a operand, lda int, b operand, ldb int, beta float32, c operand, ldc int) *launch {
	checkTrans("tA", tA)
	checkTrans("tB", tB)
	checkDim("m", m, maxSgemmM)
	checkDim("n", n, maxDim)
	checkDim("k", k, maxDim)
	ar, ac := m, k
	if tA == gemm.Trans {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB == gemm.Trans {
		br, bc = n, k
	}
	checkMatrix("a", "lda", tA, ar, ac, a, lda)
	checkMatrix("b", "ldb", tB, br, bc, b, ldb)
	checkMatrix("c", "ldc", gemm.NoTrans, m, n, c, ldc)
	switch {
	case m == 0 || n == 0:
		return nil
	case k == 0 || alpha == 0:
		if beta == 1 {
			return nil
		}
		return scaleLaunch(c, m, n, ldc, beta)
	}
	var trans uint32
	if tA == gemm.Trans {
		trans |= 1
	}
	if tB == gemm.Trans {
		trans |= 2
	}
	l := sgemmKernelLaunch(m, n, sgemmArgs(m, n, k, alpha, a.ptr, lda, b.ptr, ldb, beta, c.ptr, ldc, trans))
	l.tn = trans == 1
	return l
}

// sgemmKernelLaunch returns the launch of the sgemm kernel with args over
// an m×n C, in 128×128 tiles.
func sgemmKernelLaunch(m, n int, args []Arg) *launch {
	t := uint32(ptx.SgemmTile)
	return &launch{kernel: ptx.Sgemm, grid: Dim3{X: (uint32(n) + t - 1) / t, Y: (uint32(m) + t - 1) / t},
		block: Dim3{X: ptx.SgemmThreads}, args: args}
}

// scaleLaunch returns the launch that sets C = beta·C.
func scaleLaunch(c operand, m, n, ldc int, beta float32) *launch {
	g, b := grid2D(m, n)
	return &launch{kernel: ptx.Scale, grid: g, block: b,
		args: []Arg{Ptr(c.ptr), U32(uint32(m)), U32(uint32(n)), U32(uint32(ldc)), F32(beta)}}
}

// grid2D is the launch geometry of the 2-D element-wise kernels: 32×8
// blocks, at most 65535 rows of blocks (the kernels walk the rest).
func grid2D(rows, cols int) (grid, block Dim3) {
	return Dim3{X: uint32((cols + 31) / 32), Y: uint32(min((rows+7)/8, maxGridY))}, Dim3{X: 32, Y: 8}
}

// gridRows is the launch geometry of the row kernels: one warp a row.
func gridRows(rows int) (grid, block Dim3) {
	return Dim3{X: uint32((rows + ptx.RowsPerBlock - 1) / ptx.RowsPerBlock)}, Dim3{X: rowThreads}
}

func checkTrans(name string, t gemm.Transpose) {
	if t != gemm.NoTrans && t != gemm.Trans {
		panic(fmt.Sprintf("cuda: %s = %d is neither NoTrans nor Trans", name, int(t)))
	}
}

func checkDim(name string, v, limit int) {
	if v < 0 {
		panic(fmt.Sprintf("cuda: %s = %d < 0", name, v))
	}
	if v > limit {
		panic(fmt.Sprintf("cuda: %s = %d > %d, the largest the kernels support", name, v, limit))
	}
}

// checkMatrix checks a rows×cols row-major matrix stored in x with leading
// dimension ld, as gemm does for slices.
func checkMatrix(s, ldName string, t gemm.Transpose, rows, cols int, x operand, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("cuda: %s = %d < max(1, %d), the columns of %s as stored (%d×%d, %s)", ldName, ld, cols, s, rows, cols, t))
	}
	if ld > maxDim {
		panic(fmt.Sprintf("cuda: %s = %d > %d, the largest the kernels support", ldName, ld, maxDim))
	}
	if rows == 0 || cols == 0 {
		return
	}
	need := (rows-1)*ld + cols
	if !x.ok {
		panic(fmt.Sprintf("cuda: %s is nil, needed for a %d×%d matrix (%s) with %s = %d", s, rows, cols, t, ldName, ld))
	}
	if x.n < need {
		panic(fmt.Sprintf("cuda: len(%s) = %d < %d, needed for a %d×%d matrix (%s) with %s = %d", s, x.n, need, rows, cols, t, ldName, ld))
	}
}
