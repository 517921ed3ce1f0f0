package ptxsim

import "fmt"

// A launch's blocks may share global memory only through the release and
// acquire patterns of the PTX memory model, as CUDA's cooperative groups
// synchronise a grid: the writing block's stores, a bar.sync, then in one
// thread a fence (membar.gl or fence.*.gpu) and an atomic; in the reading
// block, an atomic and a fence in one thread, then a bar.sync, then the
// loads. The simulator follows each global word a block writes through
// those steps: written, published by a fence of its writer or, after a
// barrier, of any thread of the block, released by an atomic that follows
// that fence in the same thread. A block may read another block's word
// only once it is released, and only after an atomic and a fence of its
// own (the same thread, or another one before a barrier). It runs one
// block after the other, so that it checks the fences but not that the
// reading block's atomic saw the writer's.

// globalWrite is the block that wrote a word of global memory in a launch
// (its index in the grid: see block.id), and whether the word is released
// to other blocks.
type globalWrite struct {
	block    int32
	released bool
}

// ctaidOf returns the ctaid of the block of the launch with index id.
func (b *block) ctaidOf(id int32) [3]int {
	i, x, y := int(id), b.nctaid[0], b.nctaid[1]
	return [3]int{i % x, i / x % y, i / (x * y)}
}

// globalWrite records t's write of the n bytes at addr. Two blocks of one
// launch writing the same word is an error: a GPU runs them in any order,
// or at once.
func (b *block) globalWrite(t *thread, addr uint64, n int) error {
	for w := addr &^ 3; w < addr+uint64(n); w += 4 {
		if g, ok := b.writes[w]; ok && g.block != b.id {
			return fmt.Errorf("blocks %v and %v both write global %#x in one launch", b.ctaidOf(g.block), b.ctaid, w)
		}
		b.writes[w] = globalWrite{block: b.id}
		t.written = append(t.written, w)
	}
	return nil
}

// globalRead checks t's read of the n bytes at addr against the writes of
// other blocks in the launch.
func (b *block) globalRead(t *thread, addr uint64, n int) error {
	for w := addr &^ 3; w < addr+uint64(n); w += 4 {
		g, ok := b.writes[w]
		if !ok || g.block == b.id {
			continue
		}
		if !g.released {
			return fmt.Errorf("read of global %#x, which block %v wrote and did not release (bar.sync, then a fence and an atomic in one thread)", w, b.ctaidOf(g.block))
		}
		if !t.acquired && !(b.acquiredEpoch >= 0 && b.acquiredEpoch < b.epoch) {
			return fmt.Errorf("read of global %#x, which block %v wrote, before this block acquired it (an atomic and a fence in one thread, then bar.sync)", w, b.ctaidOf(g.block))
		}
	}
	return nil
}

// barrier hands the block's unpublished writes to the fences after the
// barrier (a fence before it publishes only to its own thread's atomics).
func (b *block) barrier() {
	for i := range b.threads {
		t := &b.threads[i]
		b.written = append(b.written, t.written...)
		b.written = append(b.written, t.published...)
		t.written, t.published = t.written[:0], t.published[:0]
	}
}

// fence publishes t's writes and those before the block's last barrier,
// and completes an acquire if t has run an atomic.
func (b *block) fence(t *thread) {
	t.published = append(t.published, t.written...)
	t.published = append(t.published, b.written...)
	t.written, b.written = t.written[:0], b.written[:0]
	if t.atomic && !t.acquired {
		t.acquired = true
		if b.acquiredEpoch < 0 { // the first acquire of the block counts
			b.acquiredEpoch = b.epoch
		}
	}
}

// release marks what t's fences published as visible to other blocks: t
// runs an atomic.
func (b *block) release(t *thread) {
	for _, w := range t.published {
		g := b.writes[w]
		g.released = true
		b.writes[w] = g
	}
	t.published = t.published[:0]
	t.atomic = true
}
