package ptxsim

import (
	"slices"
	"strings"
	"testing"
)

// lastBlockKernel: each of the grid's blocks of 32 threads writes its
// words of part, and the last block to arrive at the counter (atom.inc
// wraps it back to 0) sums them all into out; order[block] is the block's
// place in the arrival. Thread 0 counts the block in between two fences
// after a barrier, as cooperative groups synchronise a grid. mode 1
// leaves out the first fence (release), mode 2 the second (acquire), mode
// 3 makes every block write the same words of part, mode 4 has every
// thread fence its own writes before the barrier instead of thread 0
// after it, and mode 5 has thread 1 of the last block acquire again (an
// atomic and a fence) after the barrier, which must not undo thread 0's
// acquire for the others.
const lastBlockKernel = `
.version 7.0
.target sm_52
.address_size 64
.shared .align 4 .b8 flag[4];
.visible .entry k(.param .u64 part, .param .u64 cnt, .param .u64 out, .param .u64 order, .param .u32 mode)
{
	.reg .pred %p<8>;
	.reg .b32 %r<16>;
	.reg .b64 %rd<10>;
	ld.param.u64 %rd1, [part];
	ld.param.u64 %rd2, [cnt];
	ld.param.u64 %rd3, [out];
	ld.param.u64 %rd4, [order];
	ld.param.u32 %r1, [mode];
	cvta.to.global.u64 %rd1, %rd1;
	cvta.to.global.u64 %rd2, %rd2;
	cvta.to.global.u64 %rd3, %rd3;
	cvta.to.global.u64 %rd4, %rd4;
	mov.u32 %r2, %tid.x;
	mov.u32 %r3, %ctaid.x;
	mov.u32 %r4, %nctaid.x;
	shl.b32 %r5, %r3, 5;
	add.s32 %r5, %r5, %r2;
	add.s32 %r6, %r5, 1;
	setp.eq.u32 %p3, %r1, 3;
	@%p3 mov.u32 %r5, %r2;
	mul.wide.u32 %rd5, %r5, 4;
	add.s64 %rd5, %rd1, %rd5;
	st.global.u32 [%rd5], %r6;
	setp.eq.u32 %p6, %r1, 4;
	@%p6 membar.gl;
	bar.sync 0;
	setp.ne.u32 %p2, %r2, 0;
	@%p2 bra WAIT;
	sub.s32 %r7, %r4, 1;
	setp.eq.u32 %p1, %r1, 1;
	@%p6 bra COUNT;
	@!%p1 membar.gl;
COUNT:
	atom.global.inc.u32 %r8, [%rd2], %r7;
	setp.eq.u32 %p4, %r1, 2;
	@!%p4 membar.gl;
	mul.wide.u32 %rd6, %r3, 4;
	add.s64 %rd6, %rd4, %rd6;
	st.global.u32 [%rd6], %r8;
	mov.u32 %r9, flag;
	st.shared.u32 [%r9], %r8;
WAIT:
	bar.sync 0;
	mov.u32 %r9, flag;
	ld.shared.u32 %r8, [%r9];
	sub.s32 %r7, %r4, 1;
	setp.ne.u32 %p5, %r8, %r7;
	@%p5 ret;
	setp.ne.u32 %p7, %r1, 5;
	@%p7 bra SUMS;
	setp.ne.u32 %p7, %r2, 1;
	@%p7 bra SUMS;
	atom.global.add.u32 %r14, [%rd2], 0;
	membar.gl;
SUMS:
	mov.u32 %r10, 0;
	mov.u32 %r11, 0;
SUM:
	shl.b32 %r12, %r11, 5;
	add.s32 %r12, %r12, %r2;
	mul.wide.u32 %rd7, %r12, 4;
	add.s64 %rd7, %rd1, %rd7;
	ld.global.u32 %r13, [%rd7];
	add.s32 %r10, %r10, %r13;
	add.s32 %r11, %r11, 1;
	setp.lt.u32 %p1, %r11, %r4;
	@%p1 bra SUM;
	mul.wide.u32 %rd8, %r2, 4;
	add.s64 %rd8, %rd3, %rd8;
	st.global.u32 [%rd8], %r10;
	ret;
}
`

func (m *Memory) mustBytes(a uint64, n int) []byte {
	b, err := m.bytes(a, n)
	if err != nil {
		panic(err)
	}
	return b
}

func TestLastBlock(t *testing.T) {
	m, err := Parse(lastBlockKernel)
	if err != nil {
		t.Fatal(err)
	}
	const blocks = 7
	u32s := func(mem *Memory, a uint64, n int) []uint32 {
		b := mem.mustBytes(a, 4*n)
		v := make([]uint32, n)
		for i := range v {
			v[i] = uint32(getLE(b[4*i:], 4))
		}
		return v
	}
	mem := NewMemory()
	part, cnt := mem.Alloc(4*32*blocks), mem.Alloc(4)
	out, order := mem.Alloc(4*32), mem.Alloc(4*blocks)
	orders := map[string]bool{}
	for i := range 4 {
		mode := uint64(5 * (i % 2)) // 0, 5, 0, 5
		if err := m.Launch(mem, "k", Dim3{X: blocks}, Dim3{X: 32}, part, cnt, out, order, mode); err != nil {
			t.Fatal(err)
		}
		for tid, got := range u32s(mem, out, 32) {
			want := uint32(0)
			for b := range blocks {
				want += uint32(32*b + tid + 1)
			}
			if got != want {
				t.Fatalf("out[%d] = %d, want %d", tid, got, want)
			}
		}
		if c := u32s(mem, cnt, 1)[0]; c != 0 {
			t.Fatalf("counter %d after the launch, want 0 (atom.inc wraps)", c)
		}
		o := u32s(mem, order, blocks)
		s := slices.Clone(o)
		slices.Sort(s)
		for i, v := range s {
			if v != uint32(i) {
				t.Fatalf("arrival order %v is not a permutation", o)
			}
		}
		orders[string(mem.mustBytes(order, 4*blocks))] = true
	}
	if len(orders) < 2 {
		t.Errorf("4 launches ran the blocks in %d order(s), want different orders", len(orders))
	}
	for mode, want := range map[int]string{
		1: "did not release",
		2: "before this block acquired it",
		3: "both write global",
		4: "did not release",
	} {
		err := m.Launch(mem, "k", Dim3{X: blocks}, Dim3{X: 32}, part, cnt, out, order, uint64(mode))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("mode %d: error %v, want %q", mode, err, want)
		}
		// Clear the counter the failed launch left.
		clear(mem.mustBytes(cnt, 4))
	}
}

func TestMap(t *testing.T) {
	m := NewMemory()
	a := m.Alloc(16)
	ext := make([]byte, 64)
	addr := a + 1<<20
	m.Map(addr, ext)
	b, err := m.Bytes(addr+60, 4)
	if err != nil {
		t.Fatal(err)
	}
	b[0] = 7
	if ext[60] != 7 {
		t.Error("Map copied the caller's memory")
	}
	if _, err := m.Bytes(addr+61, 4); err == nil {
		t.Error("an access past the end of a mapping was allowed")
	}
	if c := m.Alloc(8); c < addr+64 {
		t.Errorf("Alloc after Map returned %#x, inside the mapping at %#x", c, addr)
	}
	for _, bad := range []uint64{addr - 8, addr + 63, a} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Map at %#x over a mapping did not panic", bad)
				}
			}()
			m.Map(bad, make([]byte, 16))
		}()
	}
}
