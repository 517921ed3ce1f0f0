//go:build !purego

package mlp

import "golang.org/x/sys/cpu"

// The vector kernels, in vec_amd64.s, give the same bits as the Go loops
// they replace (sigmoidGo, sigmoidGradGo, rmspropGo): the same operations
// in the same order, each rounded to float32, with no fused multiply-adds.

// sigmoidAVX512 handles any length.
//
//go:noescape
func sigmoidAVX512(x []float32)

// sigmoidAVX2 needs a length that is a multiple of 8.
//
//go:noescape
func sigmoidAVX2(x []float32)

//go:noescape
func sigmoidGradAVX512(d, y []float32)

//go:noescape
func rmspropAVX512(w, g, ms []float32, lr, rho, omr, eps float32)

// bytesToFloatAVX512 handles any length.
//
//go:noescape
func bytesToFloatAVX512(dst []float32, src []byte, div float32)

// bytesToFloatAVX2 needs a length that is a multiple of 8.
//
//go:noescape
func bytesToFloatAVX2(dst []float32, src []byte, div float32)

// prefetch asks for the cache lines of b to be loaded; it does not fault.
//
//go:noescape
func prefetch(b []byte)

// Read-only after start-up.
var (
	hasAVX512 = cpu.X86.HasAVX512F
	hasAVX2   = cpu.X86.HasAVX2
)

// sigmoidSlice replaces each x in s by 1/(1+e^−x), computed as sigmoidGo
// does.
func sigmoidSlice(s []float32) {
	switch {
	case hasAVX512:
		sigmoidAVX512(s)
	case hasAVX2:
		sigmoidAVX2Any(s)
	default:
		sigmoidGo(s)
	}
}

// sigmoidAVX2Any runs the AVX2 kernel on any length.
func sigmoidAVX2Any(s []float32) {
	n := len(s) &^ 7
	sigmoidAVX2(s[:n])
	sigmoidGo(s[n:])
}

// sigmoidGrad multiplies each d[i] by y[i]·(1−y[i]), as sigmoidGradGo.
func sigmoidGrad(d, y []float32) {
	y = y[:len(d)]
	if hasAVX512 {
		sigmoidGradAVX512(d, y)
		return
	}
	sigmoidGradGo(d, y)
}

// rmsprop applies the RMSprop update to w, as rmspropGo.
func rmsprop(w, g, ms []float32, lr, rho, eps float32) {
	g, ms = g[:len(w)], ms[:len(w)]
	if hasAVX512 {
		rmspropAVX512(w, g, ms, lr, rho, 1-rho, eps)
		return
	}
	rmspropGo(w, g, ms, lr, rho, eps)
}

// bytesToFloat sets dst[i] = float32(src[i]) / div, as bytesToFloatGo.
func bytesToFloat(dst []float32, src []byte, div float32) {
	dst = dst[:len(src)]
	switch {
	case hasAVX512:
		bytesToFloatAVX512(dst, src, div)
	case hasAVX2:
		bytesToFloatAVX2Any(dst, src, div)
	default:
		bytesToFloatGo(dst, src, div)
	}
}

// bytesToFloatAVX2Any runs the AVX2 kernel on any length.
func bytesToFloatAVX2Any(dst []float32, src []byte, div float32) {
	n := len(src) &^ 7
	bytesToFloatAVX2(dst[:n], src[:n], div)
	bytesToFloatGo(dst[n:], src[n:], div)
}
