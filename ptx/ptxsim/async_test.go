package ptxsim

import (
	"strings"
	"testing"
)

// asyncKernel: 4 threads copy 16 bytes each (12 of them from global, the
// rest zero-filled) into shared memory with cp.async, then each reads its
// neighbour's. mode 1 reads its own copy before waiting; mode 2 exits
// without waiting; mode 3 waits without committing (its copy stays in
// flight, and its neighbour reads it).
const asyncKernel = `
.version 7.0
.target sm_80
.address_size 64
.shared .align 16 .b8 sm[64];
.visible .entry k(.param .u64 src, .param .u64 dst, .param .u32 mode)
{
	.reg .pred %p<4>;
	.reg .b32 %r<12>;
	.reg .b64 %rd<6>;
	.reg .f32 %f<5>;
	ld.param.u64 %rd1, [src];
	ld.param.u64 %rd2, [dst];
	ld.param.u32 %r1, [mode];
	cvta.to.global.u64 %rd1, %rd1;
	cvta.to.global.u64 %rd2, %rd2;
	mov.u32 %r2, sm;
	mov.u32 %r3, %tid.x;
	shl.b32 %r4, %r3, 4;
	add.s32 %r5, %r2, %r4;
	mul.wide.u32 %rd3, %r3, 16;
	add.s64 %rd3, %rd1, %rd3;
	mov.u32 %r6, 12;
	cp.async.cg.shared.global [%r5], [%rd3], 16, %r6;
	setp.eq.u32 %p3, %r1, 3;
	@!%p3 cp.async.commit_group;
	setp.eq.u32 %p1, %r1, 1;
	@%p1 ld.shared.f32 %f1, [%r5];
	setp.eq.u32 %p2, %r1, 2;
	@%p2 ret;
	@!%p3 cp.async.wait_group 0;
	@%p3 cp.async.wait_group 1;
	bar.sync 0;
	add.s32 %r7, %r3, 1;
	and.b32 %r7, %r7, 3;
	shl.b32 %r7, %r7, 4;
	add.s32 %r7, %r2, %r7;
	ld.shared.v4.f32 {%f1, %f2, %f3, %f4}, [%r7];
	add.s64 %rd4, %rd2, %rd3;
	sub.s64 %rd4, %rd4, %rd1;
	st.global.v4.f32 [%rd4], {%f1, %f2, %f3, %f4};
	ret;
}
`

func TestCPAsync(t *testing.T) {
	m, err := Parse(asyncKernel)
	if err != nil {
		t.Fatal(err)
	}
	for mode, want := range []string{"", "in flight", "exit with cp.async copies in flight", "in flight"} {
		mem := NewMemory()
		src := make([]float32, 16)
		for i := range src {
			src[i] = float32(i + 1)
		}
		ps, pd := mem.AllocFloat32s(src), mem.AllocFloat32s(make([]float32, 16))
		err := m.Launch(mem, "k", Dim3{X: 1}, Dim3{X: 4}, ps, pd, uint64(mode))
		if want != "" {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("mode %d: error %v, want %q", mode, err, want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got := mem.Float32s(pd, 16)
		for th := range 4 {
			n := (th + 1) % 4
			for j := range 4 {
				w := float32(0)
				if j < 3 {
					w = src[4*n+j]
				}
				if got[4*th+j] != w {
					t.Fatalf("thread %d float %d = %v, want %v", th, j, got[4*th+j], w)
				}
			}
		}
	}
}
