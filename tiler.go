package gemm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A Tiler spreads matrix products, and other work given to Do, over a fixed
// number of long-lived workers: the calling goroutine and workers−1
// goroutines started by NewTiler. No goroutine is started per call or per
// tile, and the worker count is exactly what the caller asked for; Auto may
// use fewer for small products, never more.
//
// A Tiler is safe for concurrent use by several goroutines; calls that need
// more than one worker wait for each other. Close stops the workers; a
// Tiler that becomes unreachable without Close is closed by the garbage
// collector.
type Tiler struct {
	p        *pool
	strategy Strategy
	parent   *Tiler // the Tiler a WithStrategy view shares workers with
}

// pool is the part of a Tiler that its worker goroutines hold, so that an
// unreachable Tiler can be collected and its workers stopped.
type pool struct {
	workers int
	kern    *kernel

	mu     sync.Mutex // held for the whole of each parallel call
	closed bool
	job    job

	// Hand-off: signal holds seq<<16 | n for the latest job, n being the
	// number of workers taking part (quit when closed); pending counts the
	// workers other than the caller still busy with it. Waiters spin for a
	// while before they sleep, since waking a sleeping thread costs tens of
	// microseconds on virtual machines; a sleeper sets its flag and is woken
	// through its channel.
	signal         atomic.Uint64
	pending        atomic.Int32
	sleeping       []atomic.Bool   // per worker
	wake           []chan struct{} // per worker, buffered
	callerSleeping atomic.Bool
	done           chan struct{} // buffered
	ws             []workspace
	partial        [][]float32 // SplitK partial products of workers 1 …
	failure        any         // first panic raised by a worker during a job
	failMu         sync.Mutex
}

// jobKind says what the workers do with pool.job.
type jobKind int

const (
	jobBlocks jobKind = iota // C blocks of a Rows, Cols or Grid split
	jobSplitK                // partial products over ranges of K
	jobReduce                // sum the SplitK partials into C
	jobDo                    // caller-supplied ranges
)

// job describes the current parallel call. It is written under pool.mu
// before the workers are woken and only read by them.
type job struct {
	kind   jobKind
	n      int // workers taking part: 0 … n−1
	pl     plan
	gr, gc int // C blocks: gr row blocks × gc column blocks
	f      func(lo, hi int)
	size   int // range split by jobDo
	parts  int // workers that computed SplitK partials
}

// NewTiler returns a Tiler with the given number of workers and strategy.
// It panics if workers < 1 or the strategy is unknown.
func NewTiler(workers int, s Strategy) *Tiler {
	return newTiler(workers, s, bestKernel)
}

func newTiler(workers int, s Strategy, kern *kernel) *Tiler {
	if workers < 1 {
		panic(fmt.Sprintf("gemm: NewTiler: workers = %d < 1", workers))
	}
	if workers >= quit {
		panic(fmt.Sprintf("gemm: NewTiler: workers = %d > %d", workers, quit-1))
	}
	if s < Rows || s > Auto {
		panic(fmt.Sprintf("gemm: NewTiler: unknown strategy %d", int(s)))
	}
	p := &pool{
		workers:  workers,
		kern:     kern,
		ws:       make([]workspace, workers),
		partial:  make([][]float32, workers),
		sleeping: make([]atomic.Bool, workers),
		wake:     make([]chan struct{}, workers),
		done:     make(chan struct{}, 1),
	}
	for i := 1; i < workers; i++ {
		p.wake[i] = make(chan struct{}, 1)
		go p.work(i)
	}
	t := &Tiler{p: p, strategy: s}
	runtime.AddCleanup(t, func(p *pool) { p.close() }, p)
	return t
}

// WithStrategy returns a Tiler that shares t's workers but splits products
// with strategy s: for example SplitK for weight gradients beside Auto for
// the rest of a network, without a second set of workers. Closing either
// closes both.
func (t *Tiler) WithStrategy(s Strategy) *Tiler {
	if s < Rows || s > Auto {
		panic(fmt.Sprintf("gemm: WithStrategy: unknown strategy %d", int(s)))
	}
	root := t
	if t.parent != nil {
		root = t.parent
	}
	return &Tiler{p: t.p, strategy: s, parent: root}
}

// Workers returns the number of workers the Tiler was created with.
func (t *Tiler) Workers() int { return t.p.workers }

// Strategy returns the Tiler's strategy.
func (t *Tiler) Strategy() Strategy { return t.strategy }

// Kernel returns the name of the micro-kernel the Tiler uses: "avx512",
// "avx2" or "go".
func (t *Tiler) Kernel() string { return t.p.kern.name }

// Close stops the worker goroutines. It waits for a call in progress to
// finish. Using the Tiler after Close panics; calling Close again does
// nothing.
func (t *Tiler) Close() {
	t.p.close()
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.post(quit)
}

// quit, as the worker count of a signal, tells the workers to exit.
const quit = 1<<16 - 1

// A waiter polls for spinTime before it sleeps, reading the clock every
// spinCheck polls. Products in a loop (an MLP's layers) follow each other
// within this time, so the workers stay awake between them.
//
// Polling never yields the processor: runtime.Gosched would let the
// scheduler gather the caller and a worker onto one processor, where they
// take turns, and leave the other processor idle until something wakes it.
// So polling is only done while every worker can have a processor of its
// own; with more workers than GOMAXPROCS, waiters sleep at once.
const (
	spinTime  = 300 * time.Microsecond
	spinCheck = 1 << 8
)

// spinner decides when a waiter stops polling and sleeps.
type spinner struct {
	n     int
	start time.Time
}

// newSpinner returns a spinner for one wait.
func (p *pool) newSpinner() spinner {
	if p.workers > runtime.GOMAXPROCS(0) {
		return spinner{n: -1}
	}
	return spinner{}
}

// more reports whether to keep polling.
func (s *spinner) more() bool {
	if s.n < 0 {
		return false
	}
	s.n++
	if s.n%spinCheck != 0 {
		return true
	}
	if s.n == spinCheck {
		s.start = time.Now()
	} else if time.Since(s.start) > spinTime {
		s.n = 0
		return false
	}
	return true
}

// post publishes a new signal for n workers and wakes those asleep.
func (p *pool) post(n int) {
	seq := p.signal.Load()>>16 + 1
	p.signal.Store(seq<<16 | uint64(n))
	for i := 1; i < p.workers; i++ {
		if p.sleeping[i].Swap(false) {
			p.wake[i] <- struct{}{}
		}
	}
}

// work is the loop of worker i.
func (p *pool) work(i int) {
	var last uint64
	for {
		last = p.await(i, last)
		n := int(last & (1<<16 - 1))
		if n == quit {
			return
		}
		if i < n {
			p.exec(i)
			if p.pending.Add(-1) == 0 && p.callerSleeping.Swap(false) {
				p.done <- struct{}{}
			}
		}
	}
}

// await returns the first signal different from last, spinning and then
// sleeping until there is one.
func (p *pool) await(i int, last uint64) uint64 {
	spin := p.newSpinner()
	for {
		if s := p.signal.Load(); s != last {
			return s
		}
		if spin.more() {
			continue
		}
		p.sleeping[i].Store(true)
		if s := p.signal.Load(); s != last {
			p.sleeping[i].Store(false)
			return s
		}
		<-p.wake[i] // may be a stale token: the loop checks again
	}
}

// exec runs worker i's share of the current job, recording a panic so that
// the caller can raise it again.
func (p *pool) exec(i int) {
	defer func() {
		if r := recover(); r != nil {
			p.failMu.Lock()
			if p.failure == nil {
				p.failure = r
			}
			p.failMu.Unlock()
		}
	}()
	j := &p.job
	switch j.kind {
	case jobBlocks:
		pl := &j.pl
		i0, i1 := split(pl.m, pl.kern.mr, j.gr, i/j.gc)
		j0, j1 := split(pl.n, pl.kern.nr, j.gc, i%j.gc)
		if i0 < i1 && j0 < j1 {
			pl.run(&p.ws[i], i0, i1, j0, j1)
		}
	case jobSplitK:
		pl := &j.pl
		p0, p1 := split(pl.k, 1, j.n, i)
		if i == 0 {
			pl.block(&p.ws[i], 0, pl.m, 0, pl.n, p0, p1, pl.c, pl.ldc, pl.beta)
		} else if p0 < p1 {
			pl.block(&p.ws[i], 0, pl.m, 0, pl.n, p0, p1, p.partial[i], pl.n, 0)
		}
	case jobReduce:
		pl := &j.pl
		lo, hi := split(pl.m, 1, j.n, i)
		p.reduce(lo, hi)
	case jobDo:
		lo, hi := split(j.size, 1, j.n, i)
		if lo < hi {
			j.f(lo, hi)
		}
	}
}

// split divides [0, size) into parts pieces whose boundaries are multiples of
// unit (except the last) and returns the bounds of piece i.
func split(size, unit, parts, i int) (lo, hi int) {
	blocks := (size + unit - 1) / unit
	lo = min(size, blocks*i/parts*unit)
	hi = min(size, blocks*(i+1)/parts*unit)
	return lo, hi
}

// dispatch runs the current job on workers 0 … n−1, the caller being worker
// 0, and waits for all of them. p.mu must be held.
func (p *pool) dispatch(n int) {
	p.job.n = n
	if n > 1 {
		p.pending.Store(int32(n - 1))
		p.post(n)
	}
	p.exec(0)
	spin := p.newSpinner()
	for p.pending.Load() != 0 {
		if spin.more() {
			continue
		}
		p.callerSleeping.Store(true)
		if p.pending.Load() != 0 {
			<-p.done // may be a stale token: the loop checks again
		}
		p.callerSleeping.Store(false)
	}
	if f := p.failure; f != nil {
		p.failure = nil
		panic(f)
	}
}

// lock takes p.mu, and panics (releasing it) if the Tiler is closed.
func (p *pool) lock(method string) {
	p.mu.Lock()
	p.mustBeOpen(method)
}

// mustBeOpen panics, releasing p.mu, if the Tiler is closed; p.mu must be
// held.
func (p *pool) mustBeOpen(method string) {
	if p.closed {
		p.mu.Unlock()
		panic("gemm: Tiler." + method + " called after Close")
	}
}

// checkOpen panics if the Tiler is closed, for calls that then run
// without holding p.mu.
func (p *pool) checkOpen(method string) {
	p.lock(method)
	p.mu.Unlock()
}

// Do calls f on consecutive ranges [lo, hi) that together cover [0, n),
// one range per worker and at most n ranges, and returns when all calls
// have returned. The calls run concurrently on the Tiler's workers, so f
// must be safe for that; it must not call the Tiler's own methods. A panic
// in f is raised again in the caller.
func (t *Tiler) Do(n int, f func(lo, hi int)) {
	if f == nil {
		panic("gemm: Tiler.Do: f is nil")
	}
	if n <= 0 {
		return
	}
	p := t.p
	p.lock("Do")
	defer p.mu.Unlock()
	p.job = job{kind: jobDo, f: f, size: n}
	p.dispatch(min(p.workers, n))
	p.job.f = nil
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C with the Tiler's workers and
// strategy. The arguments and their rules are those of the package-level
// Sgemm.
//
// With Rows, Cols and Grid, C is bitwise the same for every worker count;
// SplitK and Auto give the same result for the same worker count.
func (t *Tiler) Sgemm(tA, tB Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	pr := newProblem(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	p := t.p
	if pr.trivial() {
		p.checkOpen("Sgemm")
		pr.scaleC(0, m)
		return
	}
	pl := pr.plan(p.kern)
	ch := choose(&pl, t.strategy, p.workers)
	if ch.w == 1 && t.strategy == Auto {
		// Too small to share: run on the caller alone. When another
		// caller holds the workers, do not wait for it: borrow a
		// workspace from the pool instead of the first worker's.
		if p.mu.TryLock() {
			p.mustBeOpen("Sgemm")
			defer p.mu.Unlock()
			pl.run(&p.ws[0], 0, m, 0, n)
			return
		}
		p.checkOpen("Sgemm")
		ws := getWorkspace()
		pl.run(ws, 0, m, 0, n)
		putWorkspace(ws)
		return
	}
	p.lock("Sgemm")
	defer p.mu.Unlock()
	p.job = job{kind: jobBlocks, pl: pl, gr: ch.gr, gc: ch.gc}
	w := ch.w
	if ch.s == SplitK && w > 1 {
		for i := 1; i < w; i++ {
			p.partial[i] = grow(p.partial[i], m*n)
		}
		p.job.kind = jobSplitK
		p.job.parts = w
		p.dispatch(w)
		p.job.kind = jobReduce
		w = min(w, m)
	}
	p.dispatch(w)
	p.job = job{}
}

// reduce adds the SplitK partials of workers 1 … into rows [lo, hi) of C,
// in worker order.
func (p *pool) reduce(lo, hi int) {
	pl := &p.job.pl
	n := pl.n
	for _, part := range p.partial[1:p.job.parts] {
		for i := lo; i < hi; i++ {
			c := pl.c[i*pl.ldc : i*pl.ldc+n]
			s := part[i*n : i*n+n]
			for j := range c {
				c[j] += s[j]
			}
		}
	}
}
