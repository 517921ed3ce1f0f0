package ptxsim

import "fmt"

// globalWrite is the block whose thread last wrote a word of global memory
// in a launch, and whether that thread has fenced (membar.gl) since.
type globalWrite struct {
	ctaid     [3]int
	published bool
}

// globalWrite records t's write of the n bytes at addr. Two blocks of one
// launch writing the same word is an error: a GPU runs them in any order,
// or at once.
func (b *block) globalWrite(t *thread, addr uint64, n int) error {
	for w := addr &^ 3; w < addr+uint64(n); w += 4 {
		if g, ok := b.writes[w]; ok && g.ctaid != b.ctaid {
			return fmt.Errorf("blocks %v and %v both write global %#x in one launch", g.ctaid, b.ctaid, w)
		}
		b.writes[w] = globalWrite{ctaid: b.ctaid}
		t.pending = append(t.pending, w)
	}
	return nil
}

// globalRead checks t's read of the n bytes at addr against the writes of
// other blocks in the launch: such a word must have been published by a
// fence of its writer, and t must have fenced since its block's last
// barrier (the order of a last-block protocol: write, fence, bar.sync,
// atomic; atomic, bar.sync, fence, read). The simulator runs one block
// after the other, so it checks the fences but not the atomic hand-off.
func (b *block) globalRead(t *thread, addr uint64, n int) error {
	for w := addr &^ 3; w < addr+uint64(n); w += 4 {
		g, ok := b.writes[w]
		if !ok || g.ctaid == b.ctaid {
			continue
		}
		if !g.published {
			return fmt.Errorf("read of global %#x, which block %v wrote without a fence (membar.gl) after it", w, g.ctaid)
		}
		if t.fenceEpoch != b.epoch {
			return fmt.Errorf("read of global %#x, which block %v wrote, without a fence (membar.gl) since the last bar.sync", w, g.ctaid)
		}
	}
	return nil
}

// fence publishes t's global writes to the other blocks.
func (b *block) fence(t *thread) {
	for _, w := range t.pending {
		if g := b.writes[w]; g.ctaid == b.ctaid {
			g.published = true
			b.writes[w] = g
		}
	}
	t.pending = t.pending[:0]
	t.fenceEpoch = b.epoch
}
