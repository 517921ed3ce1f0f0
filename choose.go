package gemm

// autoGrain is the work, in multiply-adds (m·n·k), below which Auto keeps a
// product on one worker; above it Auto uses one worker per autoGrain, up to
// the Tiler's count. Waking a worker and sharing the packed panels costs a
// few microseconds, about what one core needs for this much work.
const autoGrain = 1 << 20

// choose returns the strategy and the number of workers for a product.
func (p *pool) choose(pr *problem) (Strategy, int) {
	mr, nr := p.kern.mr, p.kern.nr
	mb := (pr.m + mr - 1) / mr // row blocks of C
	nb := (pr.n + nr - 1) / nr // column blocks of C
	w := p.workers
	switch p.strategy {
	case Rows:
		return Rows, min(w, mb)
	case Cols:
		return Cols, min(w, nb)
	case Grid:
		return Grid, w
	case SplitK:
		return SplitK, min(w, pr.k)
	}
	work := pr.m * pr.n * pr.k
	w = min(w, max(1, work/autoGrain))
	if w == 1 {
		return Rows, 1
	}
	// Split the dimension that balances best; when neither has enough
	// blocks to go round and K is long, split K instead.
	rowsEff := float64(mb) / float64(w*((mb+w-1)/w))
	colsEff := float64(nb) / float64(w*((nb+w-1)/w))
	switch {
	case rowsEff < 0.75 && colsEff < 0.75 && pr.k >= 4*max(pr.m, pr.n):
		return SplitK, w
	case rowsEff >= colsEff:
		return Rows, min(w, mb)
	default:
		return Cols, min(w, nb)
	}
}

// gridShape factors at most w workers into gr×gc blocks of C, choosing the
// factorisation whose largest block is smallest and, among those, whose
// blocks are closest to square (the least packing per worker).
func gridShape(m, n, k int, kern *kernel, w int) (gr, gc int) {
	mb := (m + kern.mr - 1) / kern.mr
	nb := (n + kern.nr - 1) / kern.nr
	best := -1
	for ww := w; ww >= 1 && best < 0; ww-- {
		for r := 1; r <= ww; r++ {
			if ww%r != 0 {
				continue
			}
			c := ww / r
			if r > mb || c > nb {
				continue
			}
			bm := (mb + r - 1) / r * kern.mr
			bn := (nb + c - 1) / c * kern.nr
			cost := bm*bn*2*k + (bm+bn)*k // multiply-adds plus packing
			if best < 0 || cost < best {
				best, gr, gc = cost, r, c
			}
		}
	}
	return gr, gc
}
