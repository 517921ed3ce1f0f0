package gemm

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tilerShapes exercise every strategy: square, tall, wide, and skinny
// outputs with a long K (SplitK's case), with all transposes.
var tilerShapes = []gemmCase{
	{m: 97, n: 101, k: 103, alpha: 1, beta: 0.5, padC: 2},
	{tA: Trans, m: 300, n: 17, k: 40, alpha: -1, beta: 1},
	{tB: Trans, m: 13, n: 260, k: 70, alpha: 0.5, beta: 0, nanC: true},
	{tA: Trans, tB: Trans, m: 30, n: 10, k: 1500, alpha: 1, beta: 1, padA: 1, padB: 3},
	{m: 200, n: 100, k: 784, alpha: 1, beta: 0},
}

func TestTilerStrategies(t *testing.T) {
	for _, kern := range kernels {
		t.Run(kern.name, func(t *testing.T) {
			// Small blocks so that each worker's share crosses blocks.
			kb := kern.withBlocking(blocking{kc: 64, mc: 4 * kern.mr, nc: 4 * kern.nr})
			for _, s := range Strategies() {
				for _, gc := range tilerShapes {
					var first []float32
					for _, w := range []int{1, 2, 3, 7} {
						tl := newTiler(w, s, kb)
						gc.check(t, tl.Sgemm)
						got := runCase(gc, tl.Sgemm)
						tl.Close()
						bitwise := s == Rows || s == Cols || s == Grid
						if first == nil {
							first = got
						} else if bitwise && !sameBits(first, got) {
							t.Fatalf("%v %v: workers=%d differs from workers=1", s, gc, w)
						}
						// SplitK and Auto are deterministic for a fixed worker count.
						tl = newTiler(w, s, kb)
						again := runCase(gc, tl.Sgemm)
						tl.Close()
						if !sameBits(again, got) {
							t.Fatalf("%v %v workers=%d: two runs differ", s, gc, w)
						}
					}
					// Rows, Cols and Grid also match the serial product bit for bit.
					if s != SplitK && s != Auto && !sameBits(first, runCase(gc, serialWith(kb))) {
						t.Fatalf("%v %v: differs from the serial product", s, gc)
					}
				}
			}
		})
	}
}

// runCase returns C after running f on the case.
func runCase(gc gemmCase, f sgemmFunc) []float32 {
	a, b, c := gc.inputs(1)
	f(gc.tA, gc.tB, gc.m, gc.n, gc.k, gc.alpha, a.data, a.ld, b.data, b.ld, gc.beta, c.data, c.ld)
	return c.data
}

func sameBits(x, y []float32) bool {
	return slices.EqualFunc(x, y, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) })
}

func TestTilerConcurrentCallers(t *testing.T) {
	tl := NewTiler(3, Auto)
	defer tl.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				gc := tilerShapes[(g+i)%len(tilerShapes)]
				want := runCase(gc, tl.Sgemm)
				if got := runCase(gc, tl.Sgemm); !sameBits(got, want) {
					t.Errorf("goroutine %d: results differ between calls", g)
				}
				var sum atomic.Int64
				tl.Do(1000, func(lo, hi int) { sum.Add(int64(hi - lo)) })
				if sum.Load() != 1000 {
					t.Errorf("Do covered %d of 1000", sum.Load())
				}
			}
		}()
	}
	wg.Wait()
}

func TestTilerDo(t *testing.T) {
	for _, w := range []int{1, 2, 3, 7} {
		tl := NewTiler(w, Rows)
		for _, n := range []int{0, 1, 2, 5, 7, 100} {
			hits := make([]int32, n)
			var calls atomic.Int32
			tl.Do(n, func(lo, hi int) {
				calls.Add(1)
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("workers=%d n=%d: index %d covered %d times", w, n, i, h)
				}
			}
			if want := min(w, n); int(calls.Load()) != want {
				t.Fatalf("workers=%d n=%d: %d calls, want %d", w, n, calls.Load(), want)
			}
		}
		tl.Close()
	}
}

func TestTilerPanics(t *testing.T) {
	tl := NewTiler(3, Rows)
	msg := catch(func() {
		tl.Do(10, func(lo, hi int) {
			if lo > 0 {
				panic("boom")
			}
		})
	})
	if msg != "boom" {
		t.Fatalf("panic in Do: got %q, want boom", msg)
	}
	if msg := catch(func() { tl.Do(3, nil) }); msg != "gemm: Tiler.Do: f is nil" {
		t.Fatalf("Do with nil f: panic %q", msg)
	}
	// The Tiler still works after a panic.
	gc := tilerShapes[0]
	gc.check(t, tl.Sgemm)
	// Argument checks name the argument.
	if msg := catch(func() { tl.Sgemm(NoTrans, NoTrans, 2, 2, 2, 1, nil, 2, nil, 2, 0, nil, 2) }); !strings.Contains(msg, "len(a) = 0 < 4") {
		t.Fatalf("short a: panic %q", msg)
	}
	tl.Close()
	tl.Close() // a second Close does nothing
	if msg := catch(func() { gc.check(t, tl.Sgemm) }); !strings.Contains(msg, "after Close") {
		t.Fatalf("Sgemm after Close: panic %q", msg)
	}
	if msg := catch(func() { tl.Do(3, func(int, int) {}) }); !strings.Contains(msg, "after Close") {
		t.Fatalf("Do after Close: panic %q", msg)
	}
}

func TestAutoNeverUsesMoreWorkers(t *testing.T) {
	for _, w := range []int{1, 2, 3, 7} {
		for _, sh := range [][3]int{{1, 1, 1}, {64, 64, 64}, {1024, 1024, 1024}, {10, 10, 100000}, {20000, 10, 30}, {784, 100, 1500}} {
			pr := problem{m: sh[0], n: sh[1], k: sh[2], lda: sh[2], ldb: sh[1]}
			pl := pr.plan(bestKernel)
			ch := choose(&pl, Auto, w)
			if ch.w < 1 || ch.w > w || ch.gr*ch.gc > ch.w {
				t.Errorf("workers=%d shape %v: Auto chose %+v", w, sh, ch)
			}
			if sh[0]*sh[1]*sh[2] < autoGrain && ch.w != 1 {
				t.Errorf("workers=%d shape %v: Auto chose %d workers for a small product", w, sh, ch.w)
			}
			if w > 1 && sh[0] == 1024 && ch.w != w {
				t.Errorf("workers=%d: Auto chose %d workers for 1024³", w, ch.w)
			}
		}
	}
}

func TestStrategyNames(t *testing.T) {
	for _, s := range Strategies() {
		got, err := ParseStrategy(s.String())
		if err != nil || got != s {
			t.Fatalf("ParseStrategy(%q) = %v, %v", s.String(), got, err)
		}
	}
	want := []string{"rows", "cols", "grid", "splitk", "auto"}
	for i, s := range Strategies() {
		if s.String() != want[i] {
			t.Fatalf("Strategy %d String = %q, want %q", i, s.String(), want[i])
		}
	}
	if _, err := ParseStrategy("diagonal"); err == nil || !strings.Contains(err.Error(), `"diagonal"`) {
		t.Fatalf("ParseStrategy(diagonal) error = %v", err)
	}
}

// BenchmarkDoWork hands each worker a fixed amount of busy work: with
// workers that stay awake between calls, ns/op stays close to the work.
func BenchmarkDoWork(b *testing.B) {
	for _, us := range []int{10, 50, 200} {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("us=%d/workers=%d", us, w), func(b *testing.B) {
				tl := NewTiler(w, Auto)
				defer tl.Close()
				d := time.Duration(us) * time.Microsecond
				for b.Loop() {
					tl.Do(w, func(lo, hi int) {
						for t0 := time.Now(); time.Since(t0) < d; {
						}
					})
				}
			})
		}
	}
}

// BenchmarkDo measures the cost of handing trivial work to the workers and
// waiting for them: the overhead Auto weighs against splitting a product.
func BenchmarkDo(b *testing.B) {
	for _, w := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			tl := NewTiler(w, Auto)
			defer tl.Close()
			var sink atomic.Int64
			f := func(lo, hi int) { sink.Add(int64(hi - lo)) }
			b.ReportAllocs()
			for b.Loop() {
				tl.Do(64, f)
			}
		})
	}
}

func TestWithStrategy(t *testing.T) {
	tl := NewTiler(3, Auto)
	v := tl.WithStrategy(SplitK)
	if v.Strategy() != SplitK || tl.Strategy() != Auto || v.Workers() != 3 {
		t.Fatalf("view: strategy %v, workers %d; parent strategy %v", v.Strategy(), v.Workers(), tl.Strategy())
	}
	gc := tilerShapes[3]
	gc.check(t, v.Sgemm)
	if !sameBits(runCase(gc, v.Sgemm), runCase(gc, newTiler(3, SplitK, bestKernel).Sgemm)) {
		t.Fatal("a SplitK view differs from a SplitK Tiler")
	}
	if msg := catch(func() { tl.WithStrategy(11) }); !strings.Contains(msg, "unknown strategy 11") {
		t.Fatalf("WithStrategy(11): panic %q", msg)
	}
	v.Close()
	if msg := catch(func() { gc.check(t, tl.Sgemm) }); !strings.Contains(msg, "after Close") {
		t.Fatalf("closing a view must close the workers: panic %q", msg)
	}
}
