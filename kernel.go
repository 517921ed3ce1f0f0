package gemm

// A kernel is a register-blocked micro-kernel together with the cache
// blocking that suits it. Its functions compute one tile,
//
//	C[0:mr, 0:w] = alpha·(A·B) + beta·C,
//
// where w is nr for fn, nr/2 for half, nr/4 for quarter and 3nr/4 for mid
// (or, for kernels with edges, only the first rows×cols of that), and
//
//   - A(i, p) is at a[i*rsA+p*csA]: column by column when rsA == 1 (a
//     packed micro-panel, csA == mr, or a transposed matrix read in place,
//     csA == its leading dimension), or, when csA == 1 and the kernel has
//     rowA, row by row (a row-major matrix read in place);
//   - B is a w-column micro-panel stored row by row with stride ldb
//     (element (p, j) at b[p*ldb+j]): a packed panel, or B itself;
//   - C is a full tile with row stride ldc.
//
// alpha·(A·B) and beta·C are each rounded to float32 and then added, so
// that a tile computed into scratch and combined in Go (edgeTile) rounds
// identically. When beta is 0 C is not read. No term is skipped because it
// is zero, so NaN and Inf propagate.
type kernel struct {
	name   string
	mr, nr int
	fn     kernelFunc
	half   kernelFunc // an mr×nr/2 kernel for narrow edges, or nil
	// quarter is an mr×nr/4 kernel for narrower edges, and mid an
	// mr×3nr/4 one for edges between half and three quarters, or nil; only
	// kernels with half have them.
	quarter, mid kernelFunc
	rowA         bool // the kernels can read A row by row (csA == 1)
	edges        bool // the kernels compute partial tiles (rows < mr, cols < w)
	blocking
}

// kernelFunc is the signature shared by all micro-kernels.
// Kernels without edges are only called with rows == mr and cols == w.
type kernelFunc func(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32, rows, cols int)

// kernels lists the kernels this CPU can run, fastest first. It is filled
// once, from the CPU's features, and never changed.
var kernels = availableKernels()

// bestKernel is the kernel used by Sgemm and new Tilers.
var bestKernel = kernels[0]

// genericKernel is the portable 4×4 kernel, written in Go.
func genericKernel() *kernel {
	k := newKernel("go", 4, 4, kernelGo4x4, nil)
	k.rowA = true
	return k
}

func newKernel(name string, mr, nr int, fn, half kernelFunc) *kernel {
	return &kernel{name: name, mr: mr, nr: nr, fn: fn, half: half, blocking: blockingFor(mr, nr, cacheSizes())}
}

// pick returns the kernel for the first of cols (1 … nr) remaining columns
// of a micro-panel, and its width w: the narrowest that covers them, where
// three quarters of a panel go to mid (a zmm and a ymm per row) or else as
// a half and then a quarter. On CPUs that run a 512-bit operation as two
// 256-bit halves the 8-column kernel takes half the time of the 16-column
// one, so 24 columns cost three quarters of 32.
// Without edges, kernels are only called on whole panels (cols == nr).
func (k *kernel) pick(cols int) (fn kernelFunc, w int) {
	switch {
	case k.half == nil || cols > 3*k.nr/4:
		return k.fn, k.nr
	case k.mid != nil && cols > k.nr/2:
		return k.mid, 3 * k.nr / 4
	case k.quarter == nil || cols > k.nr/4:
		return k.half, k.nr / 2
	}
	return k.quarter, k.nr / 4
}

// withBlocking returns a copy of the kernel with other blocking sizes, for
// tests and experiments.
func (k *kernel) withBlocking(b blocking) *kernel {
	k2 := *k
	k2.blocking = b
	return &k2
}

// kernelGo4x4 is the reference micro-kernel with MR = NR = 4.
func kernelGo4x4(k int, a []float32, rs, cs int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32, _, _ int) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	_ = a[3*rs+(k-1)*cs]
	for p := 0; p < k; p++ {
		bp := b[p*ldb : p*ldb+4 : p*ldb+4]
		q := p * cs
		a0, a1, a2, a3 := a[q], a[q+rs], a[q+2*rs], a[q+3*rs]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	storeRow4(c[0*ldc:], c00, c01, c02, c03, alpha, beta)
	storeRow4(c[1*ldc:], c10, c11, c12, c13, alpha, beta)
	storeRow4(c[2*ldc:], c20, c21, c22, c23, alpha, beta)
	storeRow4(c[3*ldc:], c30, c31, c32, c33, alpha, beta)
}

func storeRow4(c []float32, x0, x1, x2, x3, alpha, beta float32) {
	c = c[:4:4]
	x0, x1, x2, x3 = float32(alpha*x0), float32(alpha*x1), float32(alpha*x2), float32(alpha*x3)
	if beta != 0 {
		x0 += float32(beta * c[0])
		x1 += float32(beta * c[1])
		x2 += float32(beta * c[2])
		x3 += float32(beta * c[3])
	}
	c[0], c[1], c[2], c[3] = x0, x1, x2, x3
}
