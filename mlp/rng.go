package mlp

import (
	"math/bits"
	"math/rand/v2"
)

// rng is the package's source of randomness: PCG from math/rand/v2, whose
// output for a seed is fixed, with bounded integers and floats derived here
// so that results never depend on the library's derivations.
type rng struct {
	pcg rand.PCG
}

// Streams of the PCG generator, so that one seed gives independent
// sequences for initialisation and shuffling.
const (
	streamInit    = 0x9e3779b97f4a7c15
	streamShuffle = 0xd1b54a32d192ed03
)

func newRNG(seed, stream uint64) *rng {
	r := &rng{}
	r.pcg.Seed(seed, stream)
	return r
}

// float32 returns a uniform value in [0, 1) with 24 random bits.
func (r *rng) float32() float32 {
	return float32(r.pcg.Uint64()>>40) / (1 << 24)
}

// intN returns a uniform value in [0, n), n > 0 (Lemire's method).
func (r *rng) intN(n int) int {
	un := uint64(n)
	hi, lo := bits.Mul64(r.pcg.Uint64(), un)
	if lo < un {
		thresh := -un % un
		for lo < thresh {
			hi, lo = bits.Mul64(r.pcg.Uint64(), un)
		}
	}
	return int(hi)
}

// shuffle permutes p uniformly (Fisher–Yates).
func (r *rng) shuffle(p []int) {
	for i := len(p) - 1; i > 0; i-- {
		j := r.intN(i + 1)
		p[i], p[j] = p[j], p[i]
	}
}
