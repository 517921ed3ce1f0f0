package mlp

import "math"

// Constants of expf, after Cephes expf: ln 2 split in two so that n·ln2Hi
// is exact for the n that occur.
const (
	log2e  = 1.44269504088896341
	ln2Hi  = 0.693359375
	ln2Lo  = -2.12194440e-4
	expMax = 88.0  // e^88 ≈ 1.65e38 is finite in float32
	expMin = -87.0 // e^−87 ≈ 1.65e−38 is normal in float32
	// roundMagic is 1.5·2²³: adding it rounds a float32 of magnitude
	// below 2²² to an integer, which then sits in the low mantissa bits.
	roundMagic     = 12582912.0
	roundMagicBits = 0x4b400000
)

// expf returns e^x in float32, within about 2 ulp. Arguments are clamped
// to [−87, 88], so the result is never zero, infinite or subnormal; NaN
// gives NaN.
func expf(x float32) float32 {
	if x > expMax {
		x = expMax
	} else if x < expMin {
		x = expMin
	}
	// The conversions round each product to float32, so that no
	// compiler fuses a multiply and an add: the vector kernels round the
	// same way.
	t := float32(x*log2e) + roundMagic
	n := int32(math.Float32bits(t)) - roundMagicBits // round(x·log₂e)
	fn := t - roundMagic
	r := x - float32(fn*ln2Hi) - float32(fn*ln2Lo) // |r| ≤ ln2/2
	p := float32(1.9875691500e-4*r) + 1.3981999507e-3
	p = float32(p*r) + 8.3334519073e-3
	p = float32(p*r) + 4.1665795894e-2
	p = float32(p*r) + 1.6666665459e-1
	p = float32(p*r) + 5.0000001201e-1
	p = float32(p*float32(r*r)) + r + 1
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// sigmoidGo replaces each x in s by 1/(1+e^−x). The vector kernels of
// sigmoidSlice compute exactly the same values.
func sigmoidGo(s []float32) {
	for j, v := range s {
		s[j] = 1 / (1 + expf(-v))
	}
}
