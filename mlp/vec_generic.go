//go:build !amd64 || purego

package mlp

// sigmoidSlice replaces each x in s by 1/(1+e^−x).
func sigmoidSlice(s []float32) { sigmoidGo(s) }

// sigmoidGrad multiplies each d[i] by y[i]·(1−y[i]).
func sigmoidGrad(d, y []float32) { sigmoidGradGo(d, y[:len(d)]) }

// rmsprop applies the RMSprop update to w.
func rmsprop(w, g, ms []float32, lr, rho, eps float32) {
	rmspropGo(w, g[:len(w)], ms[:len(w)], lr, rho, eps)
}

// bytesToFloat sets dst[i] = float32(src[i]) / div.
func bytesToFloat(dst []float32, src []byte, div float32) { bytesToFloatGo(dst, src, div) }

// prefetch does nothing here.
func prefetch(b []byte) {}
