package gemm

import (
	"fmt"
)

// problem holds the validated arguments of one product.
type problem struct {
	tA, tB      Transpose
	m, n, k     int
	alpha, beta float32
	a           []float32
	lda         int
	b           []float32
	ldb         int
	c           []float32
	ldc         int
}

// newProblem validates the arguments of Sgemm and panics, naming the
// argument and its value, on the first that is wrong. Nothing is written
// before all checks pass.
func newProblem(tA, tB Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) problem {
	checkTrans("tA", tA)
	checkTrans("tB", tB)
	if m < 0 {
		panic(fmt.Sprintf("gemm: m = %d < 0", m))
	}
	if n < 0 {
		panic(fmt.Sprintf("gemm: n = %d < 0", n))
	}
	if k < 0 {
		panic(fmt.Sprintf("gemm: k = %d < 0", k))
	}
	// Stored shapes: A is m×k or k×m, B is k×n or n×k.
	ar, ac := m, k
	if tA == Trans {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB == Trans {
		br, bc = n, k
	}
	checkMatrix("a", "lda", tA, ar, ac, a, lda)
	checkMatrix("b", "ldb", tB, br, bc, b, ldb)
	checkMatrix("c", "ldc", NoTrans, m, n, c, ldc)
	return problem{tA, tB, m, n, k, alpha, beta, a, lda, b, ldb, c, ldc}
}

func checkTrans(name string, t Transpose) {
	if t != NoTrans && t != Trans {
		panic(fmt.Sprintf("gemm: %s = %d is neither NoTrans nor Trans", name, int(t)))
	}
}

// checkMatrix checks a rows×cols row-major matrix stored in s with leading
// dimension ld.
func checkMatrix(s, ldName string, t Transpose, rows, cols int, x []float32, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: %s = %d < max(1, %d), the columns of %s as stored (%d×%d, %s)", ldName, ld, cols, s, rows, cols, t))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("gemm: len(%s) = %d < %d, needed for a %d×%d matrix (%s) with %s = %d", s, len(x), need, rows, cols, t, ldName, ld))
	}
}

// trivial reports whether the product reduces to scaling C by beta.
func (p *problem) trivial() bool {
	return p.m == 0 || p.n == 0 || p.k == 0 || p.alpha == 0
}

// scaleC sets rows [i0, i1) of C to beta·C, overwriting when beta is 0.
func (p *problem) scaleC(i0, i1 int) {
	if p.beta == 1 || p.n == 0 {
		return
	}
	for i := i0; i < i1; i++ {
		row := p.c[i*p.ldc : i*p.ldc+p.n]
		if p.beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= p.beta
		}
	}
}
