package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gokernels/gemm"
	ref "github.com/gokernels/gemm/ptx/ptxtest"
)

// TestSimSgemmEpilogues runs SgemmAct and SgemmActGrad on the simulated
// device (8 SMs) and compares them with Sgemm followed by BiasAct (no
// bias) or ActGrad: the same bits, but for the sign of a zero, for every
// element-wise activation, on the 64×64 kernel with and without a split
// along k (the stream's workspace), and with alpha or k zero (C =
// act(beta·C), A and B not read).
func TestSimSgemmEpilogues(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, x := range []struct {
		tA, tB      gemm.Transpose
		m, n, k     int
		alpha, beta float32
		workspace   bool
	}{
		{gemm.NoTrans, gemm.NoTrans, 37, 21, 30, 1.5, 0, false},
		{gemm.Trans, gemm.NoTrans, 20, 33, 200, 1, 0.5, true}, // split in 3
		{gemm.NoTrans, gemm.Trans, 9, 13, 0, 1, -2, false},    // k == 0
		{gemm.NoTrans, gemm.NoTrans, 9, 13, 5, 0, 0, false},   // alpha == 0, beta == 0: C not read
	} {
		for _, act := range []Activation{Identity, Sigmoid, ReLU, Tanh} {
			for _, grad := range []bool{false, true} {
				name := fmt.Sprintf("%v%v/%d×%d×%d/alpha=%g/beta=%g/workspace=%v/%v/grad=%v", x.tA, x.tB, x.m, x.n, x.k, x.alpha, x.beta, x.workspace, act, grad)
				t.Run(name, func(t *testing.T) {
					c, s := simStream(t)
					ar, ac, br, bc := ref.Stored(x.tA == gemm.Trans, x.tB == gemm.Trans, x.m, x.n, x.k)
					ldc, ldy := x.n+2, x.n+1
					av, bv := random(r, max(1, ar*ac), 1), random(r, max(1, br*bc), 1)
					if x.alpha == 0 {
						for i := range av {
							av[i] = float32(math.NaN()) // not read
						}
					}
					cv, yv := random(r, x.m*ldc, 3), random(r, x.m*ldy, 1)
					if x.beta == 0 {
						for i := range cv {
							cv[i] = float32(math.NaN()) // not read
						}
					}
					a, b, y := upload(t, c, av), upload(t, c, bv), upload(t, c, yv)
					fused, plain := upload(t, c, cv), upload(t, c, cv)
					if x.workspace {
						nanWorkspace(t, c, s, SgemmWorkspace(c.Device(), x.m, x.n, x.k))
					}
					lda, ldb := max(1, ac), max(1, bc)
					var err error
					if grad {
						err = SgemmActGrad(s, act, x.tA, x.tB, x.m, x.n, x.k, x.alpha, a, lda, b, ldb, x.beta, fused, ldc, y, ldy)
					} else {
						err = SgemmAct(s, act, x.tA, x.tB, x.m, x.n, x.k, x.alpha, a, lda, b, ldb, x.beta, fused, ldc)
					}
					if err != nil {
						t.Fatal(err)
					}
					if err := Sgemm(s, x.tA, x.tB, x.m, x.n, x.k, x.alpha, a, lda, b, ldb, x.beta, plain, ldc); err != nil {
						t.Fatal(err)
					}
					switch {
					case act == Identity:
					case grad:
						err = ActGrad(s, act, plain, ldc, y, ldy, x.m, x.n)
					default:
						err = BiasAct(s, act, plain, x.m, x.n, ldc, nil)
					}
					if err != nil {
						t.Fatal(err)
					}
					got, want := read(t, s, fused), read(t, s, plain)
					for i := range got {
						if !ref.Close(got[i], want[i], 0, 0) {
							t.Fatalf("C[%d, %d] = %v fused, %v unfused", i/ldc, i%ldc, got[i], want[i])
						}
						if i%ldc < x.n && got[i] != got[i] {
							t.Fatalf("C[%d, %d] = NaN", i/ldc, i%ldc)
						}
					}
				})
			}
		}
	}
}

// TestSgemmEpilogueArgs checks the arguments SgemmAct and SgemmActGrad
// add to Sgemm's.
func TestSgemmEpilogueArgs(t *testing.T) {
	c, s := simStream(t)
	b := must[*Buffer[float32]](t)(Alloc[float32](c, 100))
	N := gemm.NoTrans
	mustPanic(t, "cuda: SgemmAct: activation softmax is not element-wise (Identity, Sigmoid, ReLU or Tanh)", func() {
		SgemmAct(s, Softmax, N, N, 2, 2, 2, 1, b, 2, b, 2, 0, b, 2)
	})
	mustPanic(t, "cuda: SgemmActGrad: activation Activation(9) is not element-wise (Identity, Sigmoid, ReLU or Tanh)", func() {
		SgemmActGrad(s, 9, N, N, 2, 2, 2, 1, b, 2, b, 2, 0, b, 2, b, 2)
	})
	mustPanic(t, "cuda: SgemmActGrad: y is nil, needed for the derivative of sigmoid", func() {
		SgemmActGrad(s, Sigmoid, N, N, 2, 2, 2, 1, b, 2, b, 2, 0, b, 2, nil, 2)
	})
	mustPanic(t, "cuda: SgemmActGrad: len(y) = 100 < 118, needed for a 10×10 matrix with ldy = 12", func() {
		SgemmActGrad(s, Tanh, N, N, 10, 10, 1, 1, b, 1, b, 10, 0, b, 10, b, 12)
	})
	mustPanic(t, "cuda: SgemmActGrad: ldy = 1, want max(1, cols) = 2 <= ldy <= 2147483647", func() {
		SgemmActGrad(s, Tanh, N, N, 2, 2, 2, 1, b, 2, b, 2, 0, b, 2, b, 1)
	})
	c2, _ := simStream(t)
	y2 := must[*Buffer[float32]](t)(Alloc[float32](c2, 100))
	mustPanic(t, "cuda: SgemmActGrad: buffer or function of another context than the stream's", func() {
		SgemmActGrad(s, Tanh, N, N, 2, 2, 2, 1, b, 2, b, 2, 0, b, 2, y2, 2)
	})
	// Identity needs no Y.
	if err := SgemmActGrad(s, Identity, N, N, 2, 2, 2, 1, b, 2, b, 2, 0, b, 2, nil, 0); err != nil {
		t.Fatal(err)
	}
}

// TestSimSgemmActAlphaZero: with alpha zero, SgemmAct stores act(beta·C)
// without splitting k through the workspace, which stays untouched.
func TestSimSgemmActAlphaZero(t *testing.T) {
	c, s := simStream(t)
	m, n, k := 20, 20, 2000
	a := upload(t, c, make([]float32, m*k))
	b := upload(t, c, make([]float32, k*n))
	cv := make([]float32, m*n)
	for i := range cv {
		cv[i] = float32(i%7) - 3
	}
	dc := upload(t, c, cv)
	n0 := SgemmWorkspace(c.Device(), m, n, k)
	if n0 == 0 {
		t.Fatal("the product would not split")
	}
	w := nanWorkspace(t, c, s, n0)
	if err := SgemmAct(s, ReLU, gemm.NoTrans, gemm.NoTrans, m, n, k, 0, a, k, b, n, 2, dc, n); err != nil {
		t.Fatal(err)
	}
	got := read(t, s, dc)
	for i := range got {
		if want := max(2*cv[i], 0); got[i] != want {
			t.Fatalf("C[%d] = %v, want %v", i, got[i], want)
		}
	}
	counters := sgemmCounters(c.Device().SMs, c.Device().cc())
	for i, v := range read(t, s, w)[counters:] {
		if v == v {
			t.Fatalf("workspace[%d] = %v: the k = 0 product was split", counters+i, v)
		}
	}
}
