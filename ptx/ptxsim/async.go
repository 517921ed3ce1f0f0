package ptxsim

import (
	"fmt"
	"slices"
)

// cp.async (sm_80) is simulated as late as the PTX memory model allows: a
// copy reads global memory when it is issued but reaches shared memory
// only when its thread waits for its group (cp.async.wait_group or
// wait_all). Until then its words are in flight, and any load or store of
// them, by any thread, is an error: so a kernel whose pipeline reads a
// stage before waiting for it fails here, as it would fail now and then
// on a GPU.

// asyncCopy is one cp.async in flight.
type asyncCopy struct {
	addr uint64 // in shared memory
	data []byte
}

// asyncState is a thread's copies in flight, oldest first: the committed
// groups, then those issued since the last commit_group. Group i ends
// before copies[ends[i]].
type asyncState struct {
	copies []asyncCopy
	ends   []int
}

// commit closes a group of the copies issued since the last commit (none
// makes an empty group).
func (s *asyncState) commit() { s.ends = append(s.ends, len(s.copies)) }

// cpAsync executes cp.async.{ca,cg}.shared.global [dst], [src], size
// {, src-size}, cp.async.commit_group, cp.async.wait_group n and
// cp.async.wait_all.
func (b *block) cpAsync(t *thread, in *inst) error {
	switch {
	case in.has("commit_group"):
		t.async.commit()
		return nil
	case in.has("wait_all"): // commit_group, then wait_group 0
		t.async.commit()
		return b.complete(t, 0)
	case in.has("wait_group"):
		if len(in.args) != 1 || in.args[0].kind != okImm {
			return fmt.Errorf("cp.async.wait_group needs a constant")
		}
		return b.complete(t, int(in.args[0].imm))
	}
	if !in.has("shared") || !in.has("global") || len(in.args) < 3 || in.args[2].kind != okImm {
		return fmt.Errorf("unsupported cp form")
	}
	n := int(in.args[2].imm)
	if n != 4 && n != 8 && n != 16 || in.has("cg") && n != 16 {
		return fmt.Errorf("cp.async of %d bytes", n)
	}
	src := n
	if len(in.args) > 3 {
		v, err := b.val(t, &in.args[3], "u32")
		if err != nil {
			return err
		}
		if v > uint64(n) {
			return fmt.Errorf("cp.async src-size %d > %d", v, n)
		}
		src = int(v)
	}
	dst, _, _, err := b.access(t, &inst{mods: []string{"shared"}}, &in.args[0], n)
	if err != nil {
		return fmt.Errorf("cp.async to shared: %v", err)
	}
	data := make([]byte, n) // zeros past src-size
	s, _, err := b.addr(t, &inst{mods: []string{"global"}}, &in.args[1])
	if err != nil {
		return err
	}
	if s%uint64(n) != 0 {
		return fmt.Errorf("misaligned cp.async from global %#x (%d bytes)", s, n)
	}
	// Even a copy of 0 bytes must name an address inside a buffer: the
	// PTX ISA says no byte is read then, but a kernel need not rely on it.
	g, err := b.mem.bytes(s, max(src, 1))
	if err == nil {
		err = b.globalRead(t, s, src)
	}
	if err != nil {
		return fmt.Errorf("cp.async from global: %v", err)
	}
	copy(data, g[:src])
	for w := dst / 4; w < (dst+uint64(n))/4; w++ {
		if b.words[w].inFlight != 0 {
			return fmt.Errorf("cp.async to shared %#x, which a cp.async has not reached yet", 4*w)
		}
		b.words[w].inFlight = int32(t.idx) + 1
	}
	t.async.copies = append(t.async.copies, asyncCopy{dst, data})
	return nil
}

// complete lands the oldest committed groups of t until at most keep are
// left in flight, as stores of t, in the order of issue.
func (b *block) complete(t *thread, keep int) error {
	a := &t.async
	g := len(a.ends) - keep // groups to land
	if g <= 0 {
		return nil
	}
	n := a.ends[g-1] // their copies
	for _, c := range a.copies[:n] {
		for w := c.addr / 4; w < (c.addr+uint64(len(c.data)))/4; w++ {
			b.words[w].inFlight = 0
		}
		p, err := b.sharedStore(t, c.addr, len(c.data))
		if err != nil {
			return err
		}
		copy(p, c.data)
	}
	a.copies = slices.Delete(a.copies, 0, n)
	a.ends = slices.Delete(a.ends, 0, g)
	for i := range a.ends {
		a.ends[i] -= n
	}
	return nil
}

// inFlight returns an error if word w of shared memory has a cp.async in
// flight.
func (b *block) inFlight(w uint64) error {
	if o := b.words[w].inFlight; o != 0 {
		return fmt.Errorf("access of shared %#x while thread %d's cp.async to it is in flight (no cp.async.wait_group for it yet)", 4*w, o-1)
	}
	return nil
}

// exit ends t, which must have no cp.async copies in flight.
func (t *thread) exit() error {
	if len(t.async.copies) > 0 || len(t.async.ends) > 0 {
		return fmt.Errorf("exit with cp.async copies in flight")
	}
	t.state = done
	return nil
}
