//go:build !purego

package mlp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSigmoidKernels checks that each vector kernel the CPU supports gives
// the bits of sigmoidGo.
func TestSigmoidKernels(t *testing.T) {
	kernels := []struct {
		name  string
		ok    bool
		width int
		f     func([]float32)
	}{
		{"avx512", hasAVX512, 16, sigmoidAVX512},
		{"avx2", hasAVX2, 8, sigmoidAVX2Any},
	}
	inf := float32(math.Inf(1))
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, inf, -inf, float32(math.NaN()),
		87, -87, 88, -88, 87.5, -87.5, 88.7, -88.7, 89, -89, 1e30, -1e30, 1e-30, -1e-45, 1e-45,
		0.34657359, -0.34657359, 0.5, 1e-7, 16.6355, -16.6355}
	r := rand.New(rand.NewPCG(1, 2))
	xs := append([]float32(nil), special...)
	for range 100000 {
		xs = append(xs, float32(r.NormFloat64()*8))
	}
	for range 10000 {
		xs = append(xs, math.Float32frombits(r.Uint32()))
	}
	want := append([]float32(nil), xs...)
	sigmoidGo(want)
	for _, k := range kernels {
		if !k.ok {
			t.Logf("%s: not supported by this CPU", k.name)
			continue
		}
		got := append([]float32(nil), xs...)
		k.f(got)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
				t.Fatalf("%s: sigmoid(%g) = %g (%#x), sigmoidGo gives %g (%#x)", k.name, xs[i], got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			}
		}
		// Lengths that are not a multiple of the width, with guards
		// that must not change.
		for n := range 3 * k.width {
			s := append([]float32(nil), xs[:n]...)
			s = append(s, 42, 43)
			k.f(s[:n])
			if s[n] != 42 || s[n+1] != 43 {
				t.Fatalf("%s: length %d: wrote past the end", k.name, n)
			}
			s = s[:n]
			for i := range s {
				if math.Float32bits(s[i]) != math.Float32bits(want[i]) && !(s[i] != s[i] && want[i] != want[i]) {
					t.Fatalf("%s: length %d: element %d differs", k.name, n, i)
				}
			}
		}
	}
}

func sameFloats(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return i
		}
	}
	return -1
}

func randFloats(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

// TestVectorKernels checks sigmoidGradAVX512 and rmspropAVX512 against
// their Go forms, bit for bit, at every length up to 70, with guard
// elements past the end.
func TestVectorKernels(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for n := range 70 {
		// sigmoidGrad: y in [0, 1] as sigmoid outputs are.
		y := make([]float32, n+2)
		for i := range y {
			y[i] = r.Float32()
		}
		d := append(randFloats(r, n, 1), 42, 43)
		want := append([]float32(nil), d...)
		sigmoidGradGo(want[:n], y)
		sigmoidGradAVX512(d[:n], y[:n])
		if i := sameFloats(d, want); i >= 0 {
			t.Fatalf("sigmoidGrad, length %d: element %d is %g, want %g", n, i, d[i], want[i])
		}

		w := append(randFloats(r, n, 0.1), 42, 43)
		g := randFloats(r, n+2, 0.01)
		ms := make([]float32, n+2)
		for i := range ms {
			ms[i] = r.Float32() * 1e-4
		}
		ms[n], ms[n+1] = 44, 45
		w2, ms2 := append([]float32(nil), w...), append([]float32(nil), ms...)
		rho := float32(0.9)
		for range 3 {
			rmspropGo(w2[:n], g, ms2[:n], 0.001, rho, 1e-7)
			rmspropAVX512(w[:n], g[:n], ms[:n], 0.001, rho, 1-rho, 1e-7)
		}
		if i := sameFloats(w, w2); i >= 0 {
			t.Fatalf("rmsprop, length %d: weight %d is %g, want %g", n, i, w[i], w2[i])
		}
		if i := sameFloats(ms, ms2); i >= 0 {
			t.Fatalf("rmsprop, length %d: mean square %d is %g, want %g", n, i, ms[i], ms2[i])
		}
	}
}

// TestBytesToFloat checks each byte-conversion kernel the CPU supports
// against bytesToFloatGo, bit for bit, for every byte value and divisor
// at every length up to 70, with guard elements past the end.
func TestBytesToFloat(t *testing.T) {
	kernels := []struct {
		name string
		ok   bool
		f    func([]float32, []byte, float32)
	}{
		{"avx512", hasAVX512, bytesToFloatAVX512},
		{"avx2", hasAVX2, bytesToFloatAVX2Any},
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, k := range kernels {
		if !k.ok {
			t.Logf("%s: not supported by this CPU", k.name)
			continue
		}
		for _, div := range []float32{255, 1, 3, 0.1, 1e-30, 0} {
			want := make([]float32, 256)
			bytesToFloatGo(want, all, div)
			if div == 255 && want[1] != float32(1)/255 {
				t.Fatalf("bytesToFloatGo(1/255) = %g", want[1])
			}
			got := make([]float32, 256)
			k.f(got, all, div)
			if i := sameFloats(got, want); i >= 0 {
				t.Fatalf("%s: %d/%g = %g, want %g", k.name, i, div, got[i], want[i])
			}
		}
		for n := range 70 {
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(r.Uint32())
			}
			want := make([]float32, n, n+2)
			bytesToFloatGo(want, src, 255)
			got := append(make([]float32, n), 42, 43)
			k.f(got[:n], src, 255)
			if got[n] != 42 || got[n+1] != 43 {
				t.Fatalf("%s: length %d: wrote past the end", k.name, n)
			}
			if i := sameFloats(got[:n], want); i >= 0 {
				t.Fatalf("%s: length %d: element %d is %g, want %g", k.name, n, i, got[i], want[i])
			}
		}
	}
}
