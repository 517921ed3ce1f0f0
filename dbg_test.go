package gemm

import "testing"

func TestDbgChoose(t *testing.T) {
	for _, sh := range [][4]int{{0, 1500, 200, 100}, {1, 784, 200, 1500}, {0, 64, 64, 64}, {0, 50, 30, 1500}} {
		tA := Transpose(sh[0])
		lda := sh[3]
		if tA == Trans {
			lda = sh[1]
		}
		pr := problem{tA: tA, m: sh[1], n: sh[2], k: sh[3], lda: lda, ldb: sh[2]}
		pl := pr.plan(bestKernel)
		ch := choose(&pl, Auto, 2)
		t.Logf("%v: %+v packB=%v aInPlace=%v cost1=%d rows=%d cols=%d splitk=%d", sh, ch, pl.packB, pl.aInPlace, pl.cost(1, 1), pl.cost(2, 1), pl.cost(1, 2), pl.splitKCost(2))
	}
}
