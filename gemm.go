package gemm

import "strconv"

// Transpose says whether an operand is used as stored or transposed.
type Transpose int

const (
	// NoTrans uses the matrix as stored: op(X) = X.
	NoTrans Transpose = iota
	// Trans uses the transpose of the stored matrix: op(X) = Xᵀ.
	Trans
)

// String returns "N" or "T", as BLAS spells the two cases.
func (t Transpose) String() string {
	switch t {
	case NoTrans:
		return "N"
	case Trans:
		return "T"
	}
	return "Transpose(" + strconv.Itoa(int(t)) + ")"
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C, where op(A) is m×k, op(B) is
// k×n and C is m×n, all row-major with leading dimensions lda, ldb and ldc.
//
// A is stored m×k when tA is NoTrans and k×m when it is Trans; B likewise
// k×n or n×k. Each leading dimension must be at least max(1, columns as
// stored), and each slice must hold (rows−1)·ld + columns elements unless
// the matrix has no elements, in which case it may be nil.
//
// When beta is zero C is overwritten without being read, so it may hold NaN.
// When alpha is zero or k is zero, A and B are not read and C is only scaled
// by beta. NaN and Inf in A and B propagate as in the naive triple loop.
//
// Sgemm runs on the calling goroutine and starts no goroutines; use a Tiler
// to spread a product over several workers.
func Sgemm(tA, tB Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := newProblem(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	if p.trivial() {
		p.scaleC(0, m)
		return
	}
	ws := getWorkspace()
	pl := p.plan(bestKernel)
	pl.run(ws, 0, m, 0, n)
	putWorkspace(ws)
}
