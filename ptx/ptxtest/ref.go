// Package ptxtest provides plain-Go reference implementations of the
// kernels of package ptx, for tests that run the kernels (in a simulator or
// on a GPU) and compare. They follow the documented semantics directly, in
// float64 where the kernels accumulate, and favour clarity over speed.
package ptxtest

import (
	"math"
	"testing"
)

// Sgemm sets C = alpha*op(A)*op(B) + beta*C (row-major, beta == 0
// overwrites) and returns, for each element of c, a bound on the rounding
// error of a float32 computation: (k+2)·ε·(|alpha|·Σ|a||b| + |beta·c|) plus
// a tiny term for the elements of C, and 0 for the elements of c outside C
// (which must not change).
func Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	const eps = 1.0 / (1 << 23)
	bound := make([]float64, len(c))
	for i := range m {
		for j := range n {
			var s, abs float64
			for p := range k {
				var av, bv float32
				if tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				abs += math.Abs(float64(av) * float64(bv))
			}
			v := float64(alpha) * s
			e := math.Abs(float64(alpha)) * abs
			if beta != 0 {
				old := float64(c[i*ldc+j])
				v += float64(beta) * old
				e += math.Abs(float64(beta) * old)
			}
			c[i*ldc+j] = float32(v)
			bound[i*ldc+j] = float64(k+2)*eps*e + 1e-30
		}
	}
	return bound
}

// Scale sets C = beta*C, writing zeros when beta is 0.
func Scale(c []float32, m, n, ldc int, beta float32) {
	for i := range m {
		for j := range n {
			if beta == 0 {
				c[i*ldc+j] = 0
			} else {
				c[i*ldc+j] *= beta
			}
		}
	}
}

// Activation codes, as in package ptx.
const (
	Identity = 0
	Sigmoid  = 1
	ReLU     = 2
	Tanh     = 3
	Softmax  = 4
)

// Act returns act(x) for the element-wise activations.
func Act(act int, x float32) float32 {
	switch act {
	case Sigmoid:
		return float32(1 / (1 + math.Exp(-float64(x))))
	case ReLU:
		if x < 0 {
			return 0
		}
		return x
	case Tanh:
		return float32(math.Tanh(float64(x)))
	}
	return x
}

// BiasAct sets y = act(y + bias); bias may be nil.
func BiasAct(act int, y []float32, rows, cols, ld int, bias []float32) {
	for i := range rows {
		for j := range cols {
			v := y[i*ld+j]
			if bias != nil {
				v += bias[j]
			}
			y[i*ld+j] = Act(act, v)
		}
	}
}

// ActDeriv returns act' at the output y.
func ActDeriv(act int, y float32) float32 {
	switch act {
	case Sigmoid:
		return y * (1 - y)
	case ReLU:
		if y > 0 {
			return 1
		}
		return 0
	case Tanh:
		return 1 - y*y
	}
	return 1
}

// ActGrad multiplies d by act'(y).
func ActGrad(act int, d []float32, ldd int, y []float32, ldy, rows, cols int) {
	for i := range rows {
		for j := range cols {
			d[i*ldd+j] *= ActDeriv(act, y[i*ldy+j])
		}
	}
}

// SoftmaxRows sets each row of y to softmax(y + bias); bias may be nil.
func SoftmaxRows(y, bias []float32, rows, cols, ld int) {
	for i := range rows {
		row := y[i*ld : i*ld+cols]
		v := make([]float64, cols)
		mx := math.Inf(-1)
		for j := range row {
			v[j] = float64(row[j])
			if bias != nil {
				v[j] += float64(bias[j])
			}
			mx = math.Max(mx, v[j])
		}
		var s float64
		for j := range v {
			v[j] = math.Exp(v[j] - mx)
			s += v[j]
		}
		for j := range row {
			row[j] = float32(v[j] / s)
		}
	}
}

// SoftmaxGrad sets d = y*(d - sum(d*y)) row by row.
func SoftmaxGrad(d []float32, ldd int, y []float32, ldy, rows, cols int) {
	for i := range rows {
		var dot float64
		for j := range cols {
			dot += float64(d[i*ldd+j]) * float64(y[i*ldy+j])
		}
		for j := range cols {
			d[i*ldd+j] = float32(float64(y[i*ldy+j]) * (float64(d[i*ldd+j]) - dot))
		}
	}
}

// BiasGrad sets db to the column sums of d.
func BiasGrad(db, d []float32, rows, cols, ldd int) {
	for j := range cols {
		var s float64
		for i := range rows {
			s += float64(d[i*ldd+j])
		}
		db[j] = float32(s)
	}
}

// GatherRows copies rows idx[i] of src to rows i of dst; a bad index gives
// NaN.
func GatherRows(dst []float32, ldd int, src []float32, lds int, idx []uint32, srcrows, rows, cols int) {
	for i := range rows {
		for j := range cols {
			if int(idx[i]) >= srcrows {
				dst[i*ldd+j] = float32(math.NaN())
				continue
			}
			dst[i*ldd+j] = src[int(idx[i])*lds+j]
		}
	}
}

func argmax(x []float64) int {
	best := 0
	for j, v := range x {
		if v > x[best] {
			best = j
		}
	}
	return best
}

func row(x []float32, i, ld, cols int) []float64 {
	r := make([]float64, cols)
	for j := range r {
		r[j] = float64(x[i*ld+j])
	}
	return r
}

// SoftmaxCE computes softmax cross-entropy from the logits z, writing the
// scaled gradient into g (if not nil) and returning the sums of the loss
// and of the hits (first argmax of z equal to that of y).
func SoftmaxCE(z []float32, ldz int, y []float32, ldy int, g []float32, ldg, rows, cols int, scale float32) (loss, hits float64) {
	for i := range rows {
		zr, yr := row(z, i, ldz, cols), row(y, i, ldy, cols)
		mx := math.Inf(-1)
		for _, v := range zr {
			mx = math.Max(mx, v)
		}
		var s, sy, yz float64
		for j := range zr {
			s += math.Exp(zr[j] - mx)
			sy += yr[j]
			yz += yr[j] * zr[j]
		}
		loss += sy*(mx+math.Log(s)) - yz
		if argmax(zr) == argmax(yr) {
			hits++
		}
		if g != nil {
			for j := range zr {
				g[i*ldg+j] = float32((math.Exp(zr[j]-mx)/s*sy - yr[j]) * float64(scale))
			}
		}
	}
	return loss, hits
}

// Keras's clip bounds, as float32 values.
var (
	clipLo = float64(float32(1e-7))
	clipHi = float64(float32(1 - 1e-7))
)

// outGrad applies act' to the gradient row gr of the outputs pr.
func outGrad(act int, gr, pr []float64) {
	if act == Softmax {
		var dot float64
		for j := range gr {
			dot += gr[j] * pr[j]
		}
		for j := range gr {
			gr[j] = pr[j] * (gr[j] - dot)
		}
		return
	}
	for j := range gr {
		gr[j] *= float64(ActDeriv(act, float32(pr[j])))
	}
}

// CCE computes Keras's categorical cross-entropy of the outputs p of act.
func CCE(p []float32, ldp int, y []float32, ldy int, g []float32, ldg, rows, cols int, scale float32, act int) (loss, hits float64) {
	for i := range rows {
		pr, yr := row(p, i, ldp, cols), row(y, i, ldy, cols)
		var s float64
		for _, v := range pr {
			s += v
		}
		var l, gq float64
		for j, v := range pr {
			q := v / s
			c := min(max(q, clipLo), clipHi)
			l -= yr[j] * math.Log(c)
			if q >= clipLo && q <= clipHi {
				gq -= yr[j] / c * q
			}
		}
		loss += l
		if argmax(pr) == argmax(yr) {
			hits++
		}
		if g == nil {
			continue
		}
		gr := make([]float64, cols)
		for j, v := range pr {
			q := v / s
			var d float64
			if q >= clipLo && q <= clipHi {
				d = -yr[j] / q
			}
			gr[j] = (d - gq) / s * float64(scale)
		}
		outGrad(act, gr, pr)
		for j := range gr {
			g[i*ldg+j] = float32(gr[j])
		}
	}
	return loss, hits
}

// MSE computes the mean squared error of the outputs p of act.
func MSE(p []float32, ldp int, y []float32, ldy int, g []float32, ldg, rows, cols int, scale float32, act int) (loss, hits float64) {
	for i := range rows {
		pr, yr := row(p, i, ldp, cols), row(y, i, ldy, cols)
		var l float64
		for j := range pr {
			d := pr[j] - yr[j]
			l += d * d
		}
		loss += l / float64(cols)
		if argmax(pr) == argmax(yr) {
			hits++
		}
		if g == nil {
			continue
		}
		gr := make([]float64, cols)
		for j := range pr {
			gr[j] = 2 * (pr[j] - yr[j]) / float64(cols) * float64(scale)
		}
		outGrad(act, gr, pr)
		for j := range gr {
			g[i*ldg+j] = float32(gr[j])
		}
	}
	return loss, hits
}

// SGD applies w -= lr*g (mu == 0) or v = mu*v - lr*g; w += v, rounding
// each operation to float32 as the kernel does (the conversions keep the
// compiler from fusing a multiply and an add).
func SGD(w, g, v []float32, lr, mu float32) {
	for i := range w {
		d := float32(lr * g[i])
		if mu == 0 {
			w[i] = float32(w[i] - d)
			continue
		}
		v[i] = float32(float32(mu*v[i]) - d)
		w[i] = float32(w[i] + v[i])
	}
}

// RMSprop applies ms = rho*ms + (1-rho)*g*g; w -= lr*g/(sqrt(ms) + eps).
func RMSprop(w, g, ms []float32, lr, rho, eps float32) {
	omr := float32(1 - rho)
	for i := range w {
		m := float32(float32(rho*ms[i]) + float32(omr*float32(g[i]*g[i])))
		ms[i] = m
		w[i] = float32(w[i] - float32(float32(lr*g[i])/float32(float32(math.Sqrt(float64(m)))+eps)))
	}
}

// AdamStep advances state = {beta1^t, beta2^t, alpha_t}.
func AdamStep(state []float32, lr, beta1, beta2 float32) {
	state[0] = float32(state[0] * beta1)
	state[1] = float32(state[1] * beta2)
	a := float32(lr * float32(math.Sqrt(float64(float32(1-state[1])))))
	state[2] = float32(a / float32(1-state[0]))
}

// Adam applies m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g;
// w -= alpha*m/(sqrt(v) + eps) with alpha = state[2].
func Adam(w, g, m, v, state []float32, beta1, beta2, eps float32) {
	alpha := state[2]
	omb1, omb2 := float32(1-beta1), float32(1-beta2)
	for i := range w {
		mi := float32(float32(beta1*m[i]) + float32(omb1*g[i]))
		vi := float32(float32(beta2*v[i]) + float32(omb2*float32(g[i]*g[i])))
		m[i], v[i] = mi, vi
		w[i] = float32(w[i] - float32(float32(alpha*mi)/float32(float32(math.Sqrt(float64(vi)))+eps)))
	}
}

// Close reports whether got is within atol + rtol·|want| of want; NaN
// matches NaN and an infinite want only itself.
func Close(got, want float32, atol, rtol float64) bool {
	if got != got || want != want {
		return got != got && want != want
	}
	if math.IsInf(float64(want), 0) {
		return got == want
	}
	return math.Abs(float64(got)-float64(want)) <= atol+rtol*math.Abs(float64(want))
}

// Compare reports through t every element of got that is not Close to
// the same element of want: the first five, then how many in all.
func Compare(t testing.TB, what string, got, want []float32, atol, rtol float64) {
	t.Helper()
	bad := 0
	for i := range want {
		if !Close(got[i], want[i], atol, rtol) {
			if bad++; bad <= 5 {
				t.Errorf("%s[%d] = %v, want %v", what, i, got[i], want[i])
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d of %d elements wrong", what, bad, len(want))
	}
}

// Stored returns the shapes of A and B as stored, rows × columns, for a
// product of op(A) (m×k) and op(B) (k×n) with the transposes tA and tB.
func Stored(tA, tB bool, m, n, k int) (ar, ac, br, bc int) {
	ar, ac, br, bc = m, k, k, n
	if tA {
		ar, ac = k, m
	}
	if tB {
		br, bc = n, k
	}
	return ar, ac, br, bc
}
