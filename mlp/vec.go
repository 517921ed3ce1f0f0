package mlp

import "math"

// The Go forms of the element-wise loops that have vector kernels. The
// float32 conversions keep the compiler from fusing a multiply and an add,
// so that every path rounds alike.

// sigmoidGradGo multiplies each d[i] by y[i]·(1−y[i]), the derivative of
// the sigmoid at its output y.
func sigmoidGradGo(d, y []float32) {
	y = y[:len(d)]
	for j, v := range y {
		d[j] *= float32(v * (1 - v))
	}
}

// rmspropGo applies the RMSprop update: ms = rho·ms + (1−rho)·g²;
// w −= lr·g/(√ms + eps).
func rmspropGo(w, g, ms []float32, lr, rho, eps float32) {
	g, ms = g[:len(w)], ms[:len(w)]
	omr := 1 - rho
	for i, gi := range g {
		m := float32(rho*ms[i]) + float32(omr*float32(gi*gi))
		ms[i] = m
		w[i] -= float32(lr*gi) / (float32(math.Sqrt(float64(m))) + eps)
	}
}

// bytesToFloatGo sets dst[i] = float32(src[i]) / div: a correctly rounded
// division, as the vector kernels compute it.
func bytesToFloatGo(dst []float32, src []byte, div float32) {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = float32(b) / div
	}
}
