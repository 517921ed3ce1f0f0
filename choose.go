package gemm

// Auto's cost model, in multiply-add times of one core running the kernel:
// packing an element of A or B costs packCost, reading one in place half
// of that, and handing work to the other workers and waiting for them costs
// handoffCost (about a microsecond while the workers are awake). Measured
// on Zen 4 with BenchmarkDo and BenchmarkSgemmMLP.
const (
	packCost    = 24
	handoffCost = 40_000
)

// autoGrain is the work, in multiply-adds (m·n·k), below which Auto never
// splits a product: handing it over costs about as much as doing it.
const autoGrain = 2 * handoffCost

// choice is how a Tiler runs one product.
type choice struct {
	s      Strategy // Rows, Cols, Grid or SplitK
	w      int      // workers taking part
	gr, gc int      // Grid's blocks: gr row blocks × gc column blocks
}

// choose decides how workers workers run the planned product under
// strategy s.
func choose(pl *plan, s Strategy, workers int) choice {
	mr, nr := pl.kern.mr, pl.kern.nr
	mb := (pl.m + mr - 1) / mr // row blocks of C
	nb := (pl.n + nr - 1) / nr // column blocks of C
	switch s {
	case Rows:
		return choice{s: Rows, w: min(workers, mb), gr: min(workers, mb), gc: 1}
	case Cols:
		return choice{s: Cols, w: min(workers, nb), gr: 1, gc: min(workers, nb)}
	case Grid:
		gr, gc := gridShape(pl, workers)
		return choice{s: Grid, w: gr * gc, gr: gr, gc: gc}
	case SplitK:
		w := min(workers, pl.k)
		return choice{s: SplitK, w: w, gr: 1, gc: 1}
	}
	best := choice{s: Rows, w: 1, gr: 1, gc: 1}
	if pl.m*pl.n*pl.k < autoGrain {
		return best
	}
	bestCost := pl.cost(1, 1)
	for w := 2; w <= workers; w++ {
		for _, c := range []choice{
			{s: Rows, w: w, gr: w, gc: 1},
			{s: Cols, w: w, gr: 1, gc: w},
			{s: SplitK, w: w, gr: 1, gc: 1},
		} {
			if c.gr > mb || c.gc > nb {
				continue
			}
			var cost int
			if c.s == SplitK {
				cost = pl.splitKCost(w)
			} else {
				cost = pl.cost(c.gr, c.gc)
			}
			if cost < bestCost {
				best, bestCost = c, cost
			}
		}
	}
	return best
}

// cost estimates the time of the slowest worker when C is split into
// gr×gc blocks: its padded multiply-adds and its packing, plus the
// hand-off when the product is shared.
func (pl *plan) cost(gr, gc int) int {
	rows, cols := pl.share(gr, gc)
	c := rows*cols*pl.k + pl.touchCost(rows, cols)
	if gr*gc > 1 {
		c += handoffCost
	}
	return c
}

// splitKCost estimates SplitK's time on w workers: each computes all of C
// over k/w, then the partials are added up, and there are two hand-offs.
func (pl *plan) splitKCost(w int) int {
	rows, cols := pl.share(1, 1)
	k := ceilDiv(pl.k, w)
	c := rows*cols*k + pl.touchCost(rows, cols)*k/pl.k
	// The reduction, shared: writing a partial, reading it back, and
	// reading and writing C.
	c += 3 * packCost * pl.m * pl.n * (w - 1) / w
	return c + 2*handoffCost
}

// share returns the rows and columns of C that the busiest worker computes
// when C is split into gr×gc blocks, counted as the kernel pays for them:
// whole tiles, except that kernels with edges pay only for the rows they
// compute and the half-, quarter- and mid-width kernels cover narrow last
// columns.
func (pl *plan) share(gr, gc int) (rows, cols int) {
	mr, nr := pl.kern.mr, pl.kern.nr
	rows = ceilDiv(ceilDiv(pl.m, mr), gr) * mr
	cols = ceilDiv(ceilDiv(pl.n, nr), gc) * nr
	if pl.kern.edges {
		rows = min(rows, pl.m)
	}
	switch {
	case pl.kern.quarter != nil:
		cols = min(cols, roundUp(pl.n, nr/4))
	case pl.kern.half != nil:
		cols = min(cols, roundUp(pl.n, nr/2))
	}
	return rows, cols
}

// touchCost is the cost of packing or reading the rows×k part of A and the
// k×cols part of B that one worker uses.
func (pl *plan) touchCost(rows, cols int) int {
	a, b := packCost*rows*pl.k, packCost*cols*pl.k
	switch {
	case pl.aInPlace:
		a /= 2
	case pl.tA == NoTrans:
		// Packing a row-major A transposes it, element by element:
		// about twice the cost of copying rows (1024³ on Zen 4: 3.9 %
		// of the time for A against 1–2 % for B), which makes Rows,
		// where each worker packs only its rows of A, the better split
		// of a square.
		a *= 2
	}
	if !pl.packB {
		b /= 2
	}
	return a + b
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// gridShape factors at most w workers into gr×gc blocks of C, choosing the
// factorisation with the cheapest slowest worker.
func gridShape(pl *plan, w int) (gr, gc int) {
	mb := ceilDiv(pl.m, pl.kern.mr)
	nb := ceilDiv(pl.n, pl.kern.nr)
	best := -1
	for ww := w; ww >= 1 && best < 0; ww-- {
		for r := 1; r <= ww; r++ {
			c := ww / r
			if r*c != ww || r > mb || c > nb {
				continue
			}
			if cost := pl.cost(r, c); best < 0 || cost < best {
				best, gr, gc = cost, r, c
			}
		}
	}
	return gr, gc
}
