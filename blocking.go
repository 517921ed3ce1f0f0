package gemm

import "github.com/klauspost/cpuid/v2"

// blocking holds the cache-blocking sizes of the Goto/BLIS loops:
// kc, the depth of a packed panel; mc, the rows of A packed per block (a
// multiple of MR); nc, the columns of B packed per panel (a multiple of NR).
type blocking struct {
	kc, mc, nc int
}

// caches holds the data-cache sizes, in bytes, that blocking is derived from.
type caches struct {
	l1, l2, l3 int
}

// Fallbacks used when cpuid reports nothing usable.
const (
	defaultL1 = 32 << 10
	defaultL2 = 512 << 10
)

// cacheSizes reads the per-core data caches from cpuid. The core count that
// cpuid reports is never used: on virtual machines it is often wrong.
func cacheSizes() caches {
	c := caches{l1: cpuid.CPU.Cache.L1D, l2: cpuid.CPU.Cache.L2, l3: cpuid.CPU.Cache.L3}
	if c.l1 < 16<<10 || c.l1 > 1<<20 {
		c.l1 = defaultL1
	}
	if c.l2 < 128<<10 || c.l2 > 64<<20 {
		c.l2 = defaultL2
	}
	if c.l3 < 0 || c.l3 > 1<<30 {
		c.l3 = 0
	}
	return c
}

// blockingFor derives KC, MC and NC for an mr×nr kernel:
//   - a kc×nr micro-panel of B takes about a sixteenth of L2: deep enough
//     that C is loaded and stored rarely, small enough that the panel and the
//     A micro-panels streaming past it stay close (measured best on Zen 4
//     with kc from 512 up; the kernel hides L2 latency);
//   - the mc×kc block of A takes half of L2;
//   - the kc×nc panel of B takes a quarter of L3, or a fixed size when L3 is
//     unknown.
func blockingFor(mr, nr int, c caches) blocking {
	kc := c.l2 / 16 / (4 * nr)
	kc = clamp(kc&^7, 128, 512)
	mc := c.l2 / 2 / (4 * kc)
	mc = clamp(mc/mr*mr, mr, 1024/mr*mr)
	nc := 4096
	if c.l3 > 0 {
		nc = c.l3 / 4 / (4 * kc)
	}
	nc = clamp(nc/nr*nr, nr, 8192/nr*nr)
	return blocking{kc: kc, mc: mc, nc: nc}
}

func clamp(x, lo, hi int) int {
	return max(lo, min(x, hi))
}
