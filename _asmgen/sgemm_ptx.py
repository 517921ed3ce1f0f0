#!/usr/bin/env python3
"""Writes ptx/sgemm.ptx (sgemm with 128x128 tiles, and scale) and
ptx/sgemm64.ptx (sgemm64 with 64x64 tiles), and their sm_80 forms, whose
loads are cp.async copies, ptx/sm80/sgemm.ptx and ptx/sm80/sgemm64.ptx.

Both SGEMM kernels share one design, spelled out here with two sets of
constants; the script only writes the repetition. The paths are relative
to the working directory, so run it from the repository root:

    python3 _asmgen/sgemm_ptx.py && go test ./ptx ./cuda
"""

ACT_DOC = '''// The epilogue computes v = alpha*acc + beta*C (beta == 0: C is not read)
// and stores, with act the activation code (0 identity, 1 sigmoid, 2 relu,
// 3 tanh, as bias_act and act_grad):
//
//	y == 0: C = act(v)                 (a layer's outputs)
//	y != 0: C = v * act'(Y), Y at y    (a gradient through the activation
//	                                    whose outputs Y are at y, leading
//	                                    dimension ldy)
//
// with the arithmetic of bias_act and act_grad, so that a fused product
// gives the same bits as the product followed by those kernels.'''


class Cfg:
    def __init__(self, name, tile, bk, doc, stages=0, min_blocks=0):
        # stages > 0: the sm_80 form, whose loads are cp.async copies
        # through that many shared-memory stages, with at least min_blocks
        # blocks on an SM.
        self.name, self.tile, self.bk, self.doc = name, tile, bk, doc
        self.stages, self.min_blocks = stages, min_blocks
        self.q = tile // 64               # 4x4 quadrants per thread, per side
        self.tm = 4 * self.q              # register tile side
        self.row = (tile + 4) * 4         # bytes per shared row (k-major)
        self.tile_bytes = bk * self.row   # one operand's tile
        self.buf = 2 * self.tile_bytes    # A and B tiles of one buffer
        self.smem = max(2, stages) * self.buf  # two buffers, or the stages


def kernel(c, w):
    """Writes the sgemm kernel of configuration c."""
    # The sm_80 forms say how many blocks must fit on an SM: ptxas 11.8
    # left to itself holds the 128x128 one to 128 registers and spills 8
    # bytes (with 1 it takes the 112 it needs), and lets the 64x64 one
    # grow past the 64 registers that four blocks allow.
    MINNCTA = f'\n.minnctapersm {c.min_blocks}' if c.stages else ''
    BASES = '\n\tmov.u64 %abase, %pa;\n\tmov.u64 %bbase, %pb;' if c.stages else ''
    ASYNC_REGS = '\n\t.reg .b32 %tl, %sc, %sl;\n\t.reg .b64 %abase, %bbase;' if c.stages else ''
    # sum_batched's registers, in the 64x64 kernel only.
    SUM_REGS = f'\n\t.reg .b32 %co<4>, %ro<4>;\n\t.reg .f32 %wl<{4 * SUM_ROWS}>;' if c.q == 1 else ''
    w(f'''.visible .entry {c.name}(
	.param .u32 m,
	.param .u32 n,
	.param .u32 k,
	.param .f32 alpha,
	.param .u64 a,
	.param .u32 lda,
	.param .u64 b,
	.param .u32 ldb,
	.param .f32 beta,
	.param .u64 c,
	.param .u32 ldc,
	.param .u32 trans,
	.param .u32 kslice,
	.param .u64 w,
	.param .u64 counts,
	.param .u32 act,
	.param .u64 y,
	.param .u32 ldy
)
.maxntid 256, 1, 1{MINNCTA}
{{
	.reg .pred %p<8>;
	.reg .pred %more, %hasbeta, %grad, %full, %yfull, %q<4>;
	.reg .pred %issig, %isrelu, %istanh, %isact;
	.reg .b32 %r<16>;
	.reg .b32 %thr, %tx, %ty, %i0, %j0, %m, %n, %k, %lda, %ldb, %ldc, %trans, %act, %ldy;
	.reg .b32 %ao, %ado, %ai, %adi, %asb, %ass, %acnt;
	.reg .b32 %bo, %bdo, %bi, %bdi, %bsb, %bss, %bcnt;
	.reg .b32 %sm, %cur, %afr, %bfr, %st, %t, %nt, %row, %cnt, %nz;{ASYNC_REGS}
	.reg .b32 %col<{c.q}>;
	.reg .b32 %cnt<{c.q}>;
	.reg .b64 %rd<8>;
	.reg .b64 %pa, %pb, %pc, %py, %astep, %bstep, %cp, %yp, %pw, %wstride;
	.reg .f32 %alpha, %beta;
	.reg .f32 %la<4>;
	.reg .f32 %lb<4>;
	.reg .f32 %fa<{c.tm}>;
	.reg .f32 %fb<{c.tm}>;
	.reg .f32 %v<4>;
	.reg .f32 %o<4>;
	.reg .f32 %e<4>;
	.reg .f32 %f_t;
	.reg .f32 %acc<{c.tm * c.tm}>;
	.reg .f32 %sacc<{c.tm * c.tm}>;{SUM_REGS}

	ld.param.u32 %m, [m];
	ld.param.u32 %n, [n];
	ld.param.u32 %k, [k];
	ld.param.f32 %alpha, [alpha];
	ld.param.u64 %pa, [a];
	ld.param.u32 %lda, [lda];
	ld.param.u64 %pb, [b];
	ld.param.u32 %ldb, [ldb];
	ld.param.f32 %beta, [beta];
	ld.param.u64 %pc, [c];
	ld.param.u32 %ldc, [ldc];
	ld.param.u32 %trans, [trans];
	cvta.to.global.u64 %pa, %pa;
	cvta.to.global.u64 %pb, %pb;
	cvta.to.global.u64 %pc, %pc;{BASES}

	// Block z of the grid computes the slice of k that starts at z*kslice
	// (at most kslice long): A and B start z*kslice steps along k, a row
	// of A (or of B transposed) or a row further down (A transposed, B).
	// Without a split z is 0 and kslice >= k.
	ld.param.u32 %r1, [kslice];
	mov.u32 %r2, %ctaid.z;
	mul.lo.s32 %r3, %r2, %r1;
	sub.s32 %k, %k, %r3;
	min.s32 %k, %k, %r1;
	max.s32 %k, %k, 0;
	and.b32 %r4, %trans, 1;
	setp.ne.u32 %p1, %r4, 0;
	selp.b32 %r5, %lda, 1, %p1;
	mul.wide.u32 %rd1, %r3, %r5;
	shl.b64 %rd1, %rd1, 2;
	add.s64 %pa, %pa, %rd1;
	and.b32 %r4, %trans, 2;
	setp.ne.u32 %p1, %r4, 0;
	selp.b32 %r5, 1, %ldb, %p1;
	mul.wide.u32 %rd1, %r3, %r5;
	shl.b64 %rd1, %rd1, 2;
	add.s64 %pb, %pb, %rd1;

	mov.u32 %thr, %tid.x;
	and.b32 %tx, %thr, 15;
	shr.u32 %ty, %thr, 4;
	mov.u32 %r1, %ctaid.y;
	shl.b32 %i0, %r1, {c.tile.bit_length() - 1};
	mov.u32 %r1, %ctaid.x;
	shl.b32 %j0, %r1, {c.tile.bit_length() - 1};
	mov.u32 %sm, {c.name}_smem;''')

    along = c.bk // 4     # threads per row of an operand stored with k along its rows
    across = c.tile // 4  # threads per k-row of an operand stored with k down its columns

    def along_k(p, base, ld, lim):
        # Row r = tid/along of the tile, k offset kk0 = (tid%along)*4; the 4
        # floats go down a column of the k-major tile.
        w(f'''	shr.u32 %r2, %thr, {along.bit_length() - 1};
	and.b32 %r3, %thr, {along - 1};
	shl.b32 %r3, %r3, 2;
	add.s32 %r4, {base}, %r2;
	mul.wide.u32 %rd1, %r4, {ld};
	cvt.u64.u32 %rd2, %r3;
	add.s64 %rd1, %rd1, %rd2;
	shl.b64 %rd1, %rd1, 2;
	add.s64 %p{p}, %p{p}, %rd1;
	mov.u64 %{p}step, {c.bk * 4};
	sub.s32 %{p}o, {lim}, %r4;
	mov.u32 %{p}do, 0;
	sub.s32 %{p}i, %k, %r3;
	mov.u32 %{p}di, {c.bk};
	mul.lo.s32 %{p}sb, %r3, {c.row};
	shl.b32 %r5, %r2, 2;
	add.s32 %{p}sb, %{p}sb, %r5;
	mov.u32 %{p}ss, {c.row};''')

    def across_k(p, base, ld, lim):
        # k row kr = tid/across, element (tid%across)*4; the 4 floats go
        # along a row of the k-major tile.
        w(f'''	shr.u32 %r2, %thr, {across.bit_length() - 1};
	and.b32 %r3, %thr, {across - 1};
	shl.b32 %r3, %r3, 2;
	mul.wide.u32 %rd1, %r2, {ld};
	add.s32 %r4, {base}, %r3;
	cvt.u64.u32 %rd2, %r4;
	add.s64 %rd1, %rd1, %rd2;
	shl.b64 %rd1, %rd1, 2;
	add.s64 %p{p}, %p{p}, %rd1;
	mul.wide.u32 %{p}step, {ld}, {c.bk * 4};
	sub.s32 %{p}o, %k, %r2;
	mov.u32 %{p}do, {c.bk};
	sub.s32 %{p}i, {lim}, %r4;
	mov.u32 %{p}di, 0;
	mul.lo.s32 %{p}sb, %r2, {c.row};
	shl.b32 %r5, %r3, 2;
	add.s32 %{p}sb, %{p}sb, %r5;
	mov.u32 %{p}ss, 4;''')

    w('''
	// Per-thread load state of A: pointer %pa and its step per k-tile
	// %astep; %ao/%ai count the rows/elements left in the outer/inner
	// direction and drop by %ado/%adi per tile; %asb is the shared offset
	// of the first of the 4 floats, %ass the distance between them.
	and.b32 %r1, %trans, 1;
	setp.ne.u32 %p1, %r1, 0;
	@%p1 bra A_TRANS;''')
    along_k('a', '%i0', '%lda', '%m')
    w('''	bra A_DONE;
A_TRANS:''')
    across_k('a', '%i0', '%lda', '%m')
    w('''A_DONE:
	// The same for B, whose tile follows the A tile.
	and.b32 %r1, %trans, 2;
	setp.ne.u32 %p1, %r1, 0;
	@%p1 bra B_TRANS;''')
    across_k('b', '%j0', '%ldb', '%n')
    w('''	bra B_DONE;
B_TRANS:''')
    along_k('b', '%j0', '%ldb', '%n')
    w(f'''B_DONE:
	add.s32 %bsb, %bsb, {c.tile_bytes};
	add.s32 %asb, %asb, %sm;
	add.s32 %bsb, %bsb, %sm;
	// Fragment addresses: As[kk][ty*4..] and Bs[kk][tx*4..] (+64 floats
	// for the second quadrant).
	shl.b32 %r1, %ty, 4;
	add.s32 %afr, %sm, %r1;
	shl.b32 %r1, %tx, 4;
	add.s32 %bfr, %sm, %r1;
	add.s32 %bfr, %bfr, {c.tile_bytes};''')
    for i in range(c.tm * c.tm):
        w(f'\tmov.f32 %acc{i}, 0f00000000;')
    if c.stages:
        async_loop(c, w)
    else:
        sync_loop(c, w)
    w('''	// Rows i0+ty*4+{0..3} (+64 for the second quadrant), column groups
	// j0+tx*4 (+64) with %cnt<g> of their 4 columns inside C.
	shl.b32 %r1, %tx, 2;
	add.s32 %col0, %j0, %r1;''')
    for g in range(1, c.q):
        w(f'\tadd.s32 %col{g}, %col0, {64 * g};')
    for g in range(c.q):
        w(f'''	sub.s32 %cnt{g}, %n, %col{g};
	min.s32 %cnt{g}, %cnt{g}, 4;
	max.s32 %cnt{g}, %cnt{g}, 0;''')
    w('''	shl.b32 %r1, %ty, 2;
	add.s32 %row, %i0, %r1;''')
    split(c, w)
    # After the split's sums, so that its predicates are not live there.
    epilogue_setup(w)

    def row_c(r2):
        w(f'''	mul.wide.u32 %rd1, {r2}, %ldc;
	shl.b64 %rd1, %rd1, 2;
	add.s64 %rd1, %pc, %rd1;
	mul.wide.u32 %rd3, {r2}, %ldy;
	shl.b64 %rd3, %rd3, 2;
	add.s64 %rd3, %py, %rd3;''')

    def store(r, g, lab):
        w('\tadd.s64 %yp, %rd3, %rd2;')
        for j in range(4):
            w(f'\tmul.f32 %v{j}, %acc{r * c.tm + g * 4 + j}, %alpha;')
        store_group(w, lab)
    tile_walk(c, w, 'DONE', row_c, store, 'ST')
    w('''DONE:
	ret;
}''')


def tile_walk(c, w, skip, row, body, tag, quads=None):
    """The walk of a thread's register tile over C's rows and column
    groups, skipping those outside C (the rest of the walk, to skip, once a
    row is past m): row(reg) sets %rd1 to the start of the row whose index
    is in reg, then for each group inside C %cp points at its first
    column, %cnt counts its columns inside C and body(r, g, lab) runs, lab
    the group's label prefix. quads limits the walk to those row
    quadrants."""
    w(f'''	setp.eq.s32 %p1, %cnt0, 0;
	@%p1 bra {skip};''')
    for qi in range(c.q) if quads is None else quads:
        for i in range(4):
            r = qi * 4 + i
            w(f'''	// Row {r}.
	add.s32 %r2, %row, {64 * qi + i};
	setp.ge.u32 %p1, %r2, %m;
	@%p1 bra {skip};''')
            row('%r2')
            for g in range(c.q):
                lab = f'{tag}{r}{g}'
                w(f'\tmov.u32 %cnt, %cnt{g};')
                if g:  # group 0 is inside C: checked above
                    w(f'''	setp.eq.s32 %p1, %cnt, 0;
	@%p1 bra {lab}_DONE;''')
                w(f'''	mul.wide.u32 %rd2, %col{g}, 4;
	add.s64 %cp, %rd1, %rd2;''')
                body(r, g, lab)
                w(f'{lab}_DONE:')


# The rows of W_z (4 floats each) whose loads each thread of the last
# block of a split sgemm64 has in flight at once, of its 4: a latency for
# each group of rows, fewer registers for more groups.
SUM_ROWS = 2
assert 4 % SUM_ROWS == 0


def split(c, w):
    """The end of a block of a split product (nctaid.z > 1; otherwise it
    goes on to FINAL): it stores alpha*acc, its slice's partial product, to
    W_z (the m x n matrix at w + z*mn4 floats, mn4 = m*n rounded up to a
    multiple of 4, leading dimension n) and
    counts itself in at its tile's counter; the last of the tile's blocks
    to arrive sums W_0 + ... + W_{nz-1} in the order of z into acc, sets
    alpha to 1 and goes on to FINAL, which stores C as without a split."""
    w('''	// A split product: the partial product to W_z, then the tile's
	// counter.
	mov.u32 %nz, %nctaid.z;
	setp.lt.u32 %p1, %nz, 2;
	@%p1 bra FINAL;
	ld.param.u64 %pw, [w];
	cvta.to.global.u64 %pw, %pw;
	// W_z starts z*mn4 floats into W: m*n rounded up to a multiple of 4,
	// so that no 16 bytes of W hold floats of two slices. (With m*n
	// floats apart, an H200 lost the first floats of W_z, found zero,
	// in 10 to 95% of launches whenever W_z started 8 bytes into 16.)
	mul.wide.u32 %wstride, %m, %n;
	add.s64 %wstride, %wstride, 3;
	and.b64 %wstride, %wstride, -4;
	shl.b64 %wstride, %wstride, 2;
	mov.u32 %r1, %ctaid.z;
	cvt.u64.u32 %rd4, %r1;
	mul.lo.s64 %rd4, %rd4, %wstride;
	add.s64 %rd4, %pw, %rd4;''')

    def row_w(r2):
        w(f'''	mul.wide.u32 %rd1, {r2}, %n;
	shl.b64 %rd1, %rd1, 2;
	add.s64 %rd1, %rd4, %rd1;''')

    def put(r, g, lab):
        for j in range(4):
            w(f'\tmul.f32 %v{j}, %acc{r * c.tm + g * 4 + j}, %alpha;')
        group_preds(w)
        store4(w, lab)
    tile_walk(c, w, 'PARTS_DONE', row_w, put, 'PT')
    # membar.gl is fence.sc.gpu; release and acquire suffice, where sm_70's
    # fence.acq_rel is there.
    FENCE = 'fence.acq_rel.gpu' if c.stages else 'membar.gl'
    w(f'''PARTS_DONE:
	// Thread 0 counts the block in at its tile's counter, between two
	// fences, after a barrier: the barrier orders the block's stores of
	// its partials before thread 0's first fence, which with the atomic
	// makes them visible to the block that sees the count complete
	// (release); in that block, thread 0's second fence after the atomic,
	// then the barrier, order its loads after the other blocks' stores
	// (acquire). atom.inc wraps the counter back to 0 at the tile's last
	// block, ready for the next split product. The loads go to L2 (.cg).
	// This is the grid synchronisation of CUDA's cooperative groups.
	bar.sync 0;
	// (%tid.x and the shared address again rather than %thr and %sm, which
	// would then stay live through the k loop.)
	mov.u32 %r1, %tid.x;
	setp.ne.u32 %p1, %r1, 0;
	@%p1 bra ARRIVED;
	ld.param.u64 %rd5, [counts];
	cvta.to.global.u64 %rd5, %rd5;
	mov.u32 %r1, %ctaid.y;
	mov.u32 %r2, %nctaid.x;
	mov.u32 %r3, %ctaid.x;
	mad.lo.s32 %r1, %r1, %r2, %r3;
	mul.wide.u32 %rd6, %r1, 4;
	add.s64 %rd5, %rd5, %rd6;
	sub.s32 %r2, %nz, 1;
	{FENCE};
	atom.global.inc.u32 %r3, [%rd5], %r2;
	{FENCE};
	mov.u32 %r4, {c.name}_smem;
	st.shared.u32 [%r4], %r3;
ARRIVED:
	bar.sync 0;
	mov.u32 %r4, {c.name}_smem;
	ld.shared.u32 %r3, [%r4];
	sub.s32 %r2, %nz, 1;
	setp.ne.u32 %p1, %r3, %r2;
	@%p1 bra DONE;
	// The last block: W_0 + W_1 + ... in the order of z, from -0 (x + -0
	// is x for every x, -0 included), into acc. (Summed in registers of
	// their own, then moved: with acc itself, ptxas 11.8 allocates 7 more
	// registers to the whole kernel.)''')
    for i in range(c.tm * c.tm):
        w(f'\tmov.f32 %sacc{i}, 0f80000000;')
    if c.q == 1:
        sum_batched(c, w)
    else:
        sum_walk(c, w, row_w)
    for i in range(c.tm * c.tm):
        w(f'\tmov.f32 %acc{i}, %sacc{i};')
    w('''	mov.f32 %alpha, 0f3F800000;
FINAL:''')


def sum_walk(c, w, row_w):
    """The last block's sum for the 128x128 tile, which Sgemm never
    splits (its tiles leave no room): a pass over the slices for each
    quadrant of rows, a float4 (or scalar) load at a time."""
    for qi in range(c.q):
        w(f'''	mov.u32 %t, 0;
	mov.u64 %rd4, %pw;
SUM{qi}:''')

        def add(r, g, lab):
            group_preds(w)
            load4(w, '%cp', '%full', f'{lab}_L', '.cg')
            for j in range(4):
                a = f'%sacc{r * c.tm + g * 4 + j}'
                w(f'\tadd.rn.f32 {a}, {a}, %o{j};')
        tile_walk(c, w, f'SUM{qi}_NEXT', row_w, add, f'SM{qi}_', [qi])
        w(f'''SUM{qi}_NEXT:
	add.s64 %rd4, %rd4, %wstride;
	add.s32 %t, %t, 1;
	setp.lt.u32 %p1, %t, %nz;
	@%p1 bra SUM{qi};''')


def sum_batched(c, w):
    """The last block's sum for the 64x64 tile: the thread's 16 floats of
    each slice loaded SUM_ROWS rows at a time, all of a group's loads in
    flight together, then added in order."""
    w('''	// The byte offsets in W_z of the thread's columns and rows, 0 for
	// those outside C: every load then reads inside W_z (m, n >= 1; a
	// split has m*n < 2^30) with neither a branch nor a predicate, and
	// a group's loads are in flight at once. The sums outside C are never
	// stored.''')
    for j in range(4):
        w(f'''	setp.gt.s32 %p1, %cnt0, {j};
	add.s32 %r1, %col0, {j};
	shl.b32 %r1, %r1, 2;
	selp.b32 %co{j}, %r1, 0, %p1;''')
    for i in range(4):
        w(f'''	add.s32 %r1, %row, {i};
	setp.lt.u32 %p1, %r1, %m;
	mul.lo.s32 %r1, %r1, %n;
	shl.b32 %r1, %r1, 2;
	selp.b32 %ro{i}, %r1, 0, %p1;''')
    w('''	mov.u32 %t, 0;
	mov.u64 %rd4, %pw;
SUM0:''')
    for h in range(0, 4, SUM_ROWS):
        for i in range(h, h + SUM_ROWS):
            for j in range(4):
                w(f'''	add.s32 %r1, %ro{i}, %co{j};
	cvt.u64.u32 %rd1, %r1;
	add.s64 %rd1, %rd4, %rd1;
	ld.global.cg.f32 %wl{(i - h) * 4 + j}, [%rd1];''')
        for i in range(h, h + SUM_ROWS):
            for j in range(4):
                w(f'\tadd.rn.f32 %sacc{i * 4 + j}, %sacc{i * 4 + j}, %wl{(i - h) * 4 + j};')
    w('''	add.s64 %rd4, %rd4, %wstride;
	add.s32 %t, %t, 1;
	setp.lt.u32 %p1, %t, %nz;
	@%p1 bra SUM0;''')


def count(o):
    """Sets %{o}cnt to the floats of operand o's next 4 inside the matrix."""
    return f'''	setp.gt.s32 %p1, %{o}o, 0;
	min.s32 %{o}cnt, %{o}i, 4;
	max.s32 %{o}cnt, %{o}cnt, 0;
	selp.b32 %{o}cnt, %{o}cnt, 0, %p1;'''


def advance(o):
    """Moves operand o's pointer and bounds on by one step."""
    return f'''	add.s64 %p{o}, %p{o}, %{o}step;
	sub.s32 %{o}o, %{o}o, %{o}do;
	sub.s32 %{o}i, %{o}i, %{o}di;'''


def aligned16(ptr):
    """Sets %p2 if the address in ptr is 16-byte aligned."""
    return f'''	cvt.u32.u64 %r6, {ptr};
	and.b32 %r6, %r6, 15;
	setp.eq.u32 %p2, %r6, 0;'''


def sync_loop(c, w):
    """The k loop of the portable form: loads through registers, two
    shared-memory buffers, one bar.sync per step."""
    w(f'''	// Number of k-tiles.
	add.s32 %nt, %k, {c.bk - 1};
	shr.u32 %nt, %nt, {c.bk.bit_length() - 1};
	mov.u32 %t, 0;
	mov.u32 %cur, 0;
	setp.eq.u32 %p1, %nt, 0;
	@%p1 bra EPILOGUE;''')

    def load(o, label):
        w(f'''	// Load 4 floats of {o.upper()} into %l{o}0..3 and advance.
{count(o)}
	mov.f32 %l{o}0, 0f00000000;
	mov.f32 %l{o}1, 0f00000000;
	mov.f32 %l{o}2, 0f00000000;
	mov.f32 %l{o}3, 0f00000000;
{aligned16('%p' + o)}
	setp.eq.s32 %p3, %{o}cnt, 4;
	and.pred %p2, %p2, %p3;
	@!%p2 bra {label}_SCALAR;
	ld.global.v4.f32 {{%l{o}0, %l{o}1, %l{o}2, %l{o}3}}, [%p{o}];
	bra {label}_LOADED;
{label}_SCALAR:''')
        for q in range(4):
            w(f'''	setp.gt.s32 %p4, %{o}cnt, {q};
	@%p4 ld.global.f32 %l{o}{q}, [%p{o}+{4 * q}];''')
        w(f'''{label}_LOADED:
{advance(o)}''')

    def store():
        for o in 'ab':
            w(f'\tadd.s32 %st, %{o}sb, %cur;')
            for q in range(4):
                if q:
                    w(f'\tadd.s32 %st, %st, %{o}ss;')
                w(f'\tst.shared.f32 [%st], %l{o}{q};')

    load('a', 'A0')
    load('b', 'B0')
    store()
    w('''	bar.sync 0;
KLOOP:
	add.s32 %t, %t, 1;
	setp.lt.u32 %more, %t, %nt;
	@!%more bra COMPUTE;''')
    load('a', 'A1')
    load('b', 'B1')
    w('COMPUTE:')
    compute(c, w, '%cur')
    w(f'''	@!%more bra EPILOGUE;
	xor.b32 %cur, %cur, {c.buf};''')
    store()
    w('''	bar.sync 0;
	bra KLOOP;
EPILOGUE:''')
def compute(c, w, buf):
    """The FMAs of one k-tile from the shared buffer at offset buf."""
    w(f'''	add.s32 %r7, %afr, {buf};
	add.s32 %r8, %bfr, {buf};''')
    for kk in range(c.bk):
        w(f'\t// kk = {kk}')
        for f in 'ab':
            reg = 7 if f == 'a' else 8
            for q in range(c.q):
                r = ', '.join(f'%f{f}{q * 4 + x}' for x in range(4))
                w(f'\tld.shared.v4.f32 {{{r}}}, [%r{reg}+{kk * c.row + q * 256}];')
        for i in range(c.tm):
            for j in range(c.tm):
                a = i * c.tm + j
                w(f'\tfma.rn.f32 %acc{a}, %fa{i}, %fb{j}, %acc{a};')


def async_loop(c, w):
    """The k loop of the sm_80 form: each thread's 4 floats of A and of B
    go straight to shared memory with cp.async (16 bytes at once where they
    are contiguous there and aligned in global memory, else 4 copies of 4
    bytes, zero-filled past the matrix), through c.stages stages: tile t
    is waited for, a bar.sync makes it visible and frees the stage that
    tile t-1 used, tile t+stages-1 is issued into that stage, and tile t
    is computed. Every step commits one group, empty past the last tile,
    so that cp.async.wait_group stages-2 always leaves tile t landed."""
    S = c.stages

    def issue(lab):
        # Issue the loads of the tile %tl into the stage at %sl.
        for o in 'ab':
            w(f'''	// {o.upper()}: %{o}cnt floats inside the matrix.
{count(o)}
	add.s32 %st, %{o}sb, %sl;
{aligned16('%p' + o)}
	setp.eq.u32 %p3, %{o}ss, 4;
	and.pred %p2, %p2, %p3;
	setp.gt.s32 %p3, %{o}cnt, 0;
	and.pred %p2, %p2, %p3;
	@!%p2 bra {lab}{o.upper()}_4;
	shl.b32 %r6, %{o}cnt, 2;
	cp.async.cg.shared.global [%st], [%p{o}], 16, %r6;
	bra {lab}{o.upper()}_DONE;
{lab}{o.upper()}_4:
	// Floats past the matrix are zero-filled, and read from the
	// matrix's first address rather than from past its end.''')
            for q in range(4):
                if q:
                    w(f'\tadd.s32 %st, %st, %{o}ss;')
                w(f'''	setp.gt.s32 %p4, %{o}cnt, {q};
	selp.b32 %r6, 4, 0, %p4;
	add.s64 %cp, %p{o}, {4 * q};
	selp.b64 %cp, %cp, %{o}base, %p4;
	cp.async.ca.shared.global [%st], [%cp], 4, %r6;''')
            w(f'''{lab}{o.upper()}_DONE:
{advance(o)}''')

    def rotate(reg):
        w(f'''	add.s32 {reg}, {reg}, {c.buf};
	setp.eq.u32 %p1, {reg}, {S * c.buf};
	@%p1 mov.u32 {reg}, 0;''')

    w(f'''	// Number of k-tiles; %t the tile computed, %tl the next to load,
	// %sc and %sl their stages' offsets.
	add.s32 %nt, %k, {c.bk - 1};
	shr.u32 %nt, %nt, {c.bk.bit_length() - 1};
	mov.u32 %t, 0;
	mov.u32 %tl, 0;
	mov.u32 %sc, 0;
	mov.u32 %sl, 0;''')
    for p in range(S - 1):
        w(f'''	setp.ge.u32 %p1, %tl, %nt;
	@%p1 bra PRO{p}_DONE;''')
        issue(f'PRO{p}')
        w(f'''	add.s32 %tl, %tl, 1;''')
        rotate('%sl')
        w(f'''PRO{p}_DONE:
	cp.async.commit_group;''')
    w(f'''KLOOP:
	setp.ge.u32 %p1, %t, %nt;
	@%p1 bra KDONE;
	cp.async.wait_group {S - 2};
	bar.sync 0;
	setp.ge.u32 %p1, %tl, %nt;
	@%p1 bra ISSUE_DONE;''')
    issue('ISSUE')
    w('''	add.s32 %tl, %tl, 1;''')
    rotate('%sl')
    w('''ISSUE_DONE:
	cp.async.commit_group;''')
    compute(c, w, '%sc')
    rotate('%sc')
    w('''	add.s32 %t, %t, 1;
	bra KLOOP;
KDONE:
	cp.async.wait_all;
EPILOGUE:''')


def epilogue_setup(w):
    """Reads act, y and ldy and sets the epilogue's predicates."""
    w('''	setp.neu.f32 %hasbeta, %beta, 0f00000000;
	ld.param.u32 %act, [act];
	ld.param.u64 %py, [y];
	ld.param.u32 %ldy, [ldy];
	setp.ne.u64 %grad, %py, 0;
	cvta.to.global.u64 %py, %py;
	setp.eq.u32 %issig, %act, 1;
	setp.eq.u32 %isrelu, %act, 2;
	setp.eq.u32 %istanh, %act, 3;
	setp.ne.u32 %isact, %act, 0;''')


def sigmoid(w, v, e):
    # 1/(1 + 2^(-x*log2 e)), as bias_act.
    w(f'''	mul.f32 {e}, {v}, 0fBFB8AA3B;
	ex2.approx.f32 {e}, {e};
	add.f32 {e}, {e}, 0f3F800000;
	rcp.rn.f32 {v}, {e};''')


def relu(w, v, p):
    # x < 0 ? 0 : x, so that NaN stays NaN.
    w(f'''	setp.lt.f32 {p}, {v}, 0f00000000;
	selp.f32 {v}, 0f00000000, {v}, {p};''')


def tanh(w, v, e, p):
    # bias_act's tanh: 1 - 2/(1 + e^(2x)) for |x| >= 1/4, and
    # x + x*t*(-1/3 + t*(2/15 - 17/315*t)), t = x*x, below; predicated
    # instead of branched (NaN takes the first, as in bias_act).
    w(f'''	abs.f32 {e}, {v};
	setp.lt.f32 {p}, {e}, 0f3E800000;
	@!{p} mul.f32 {e}, {v}, 0f4038AA3B;
	@!{p} ex2.approx.f32 {e}, {e};
	@!{p} add.f32 {e}, {e}, 0f3F800000;
	@!{p} rcp.rn.f32 {e}, {e};
	@!{p} fma.rn.f32 {v}, {e}, 0fC0000000, 0f3F800000;
	@{p} mul.f32 {e}, {v}, {v};
	@{p} fma.rn.f32 %f_t, {e}, 0fBD5D0DD1, 0f3E088889;
	@{p} fma.rn.f32 %f_t, %f_t, {e}, 0fBEAAAAAB;
	@{p} mul.f32 %f_t, %f_t, {e};
	@{p} fma.rn.f32 {v}, %f_t, {v}, {v};''')


def dsigmoid(w, v, yv, e):
    # d * (y*(1-y)), as act_grad.
    w(f'''	sub.rn.f32 {e}, 0f3F800000, {yv};
	mul.rn.f32 {e}, {yv}, {e};
	mul.rn.f32 {v}, {v}, {e};''')


def drelu(w, v, yv, p):
    w(f'''	setp.gt.f32 {p}, {yv}, 0f00000000;
	selp.f32 {v}, {v}, 0f00000000, {p};''')


def dtanh(w, v, yv, e):
    w(f'''	mul.rn.f32 {e}, {yv}, {yv};
	sub.rn.f32 {e}, 0f3F800000, {e};
	mul.rn.f32 {v}, {v}, {e};''')


def load4(w, ptr, full, lab, cache=''):
    """Loads the up to 4 floats at ptr into %o0..3: a float4 when full,
    else %o0 and, as %q1..3 say, the others (zeros where not loaded, so
    that no register is read unset)."""
    w(f'''	@!{full} bra {lab}SCALAR;
	ld.global{cache}.v4.f32 {{%o0, %o1, %o2, %o3}}, [{ptr}];
	bra {lab};
{lab}SCALAR:
	mov.f32 %o1, 0f00000000;
	mov.f32 %o2, 0f00000000;
	mov.f32 %o3, 0f00000000;
	ld.global{cache}.f32 %o0, [{ptr}];
	@%q1 ld.global{cache}.f32 %o1, [{ptr}+4];
	@%q2 ld.global{cache}.f32 %o2, [{ptr}+8];
	@%q3 ld.global{cache}.f32 %o3, [{ptr}+12];
{lab}:''')


def store_group(w, lab):
    """Finishes and stores up to 4 values %v0..3 of C at %cp (%cnt of them
    inside C; Y's at %yp): beta*C, then the activation or its gradient, as
    the uniform predicates say."""
    group_preds(w)
    w(f'\t@!%hasbeta bra {lab}_ACT;')
    load4(w, '%cp', '%full', f'{lab}_B')
    for j in range(4):
        w(f'\tfma.rn.f32 %v{j}, %beta, %o{j}, %v{j};')
    w(f'''{lab}_ACT:
	@!%isact bra {lab}_STORE;
	@%grad bra {lab}_GRAD;
	@%issig bra {lab}_SIG;
	@%isrelu bra {lab}_RELU;
	@!%istanh bra {lab}_STORE;''')
    for j in range(4):
        tanh(w, f'%v{j}', f'%e{j}', '%p5')
    w(f'''	bra {lab}_STORE;
{lab}_SIG:''')
    for j in range(4):
        sigmoid(w, f'%v{j}', f'%e{j}')
    w(f'''	bra {lab}_STORE;
{lab}_RELU:''')
    for j in range(4):
        relu(w, f'%v{j}', '%p5')
    w(f'''	bra {lab}_STORE;
{lab}_GRAD:
	// Y's 4 values, then the derivative.
{aligned16('%yp')}
	and.pred %yfull, %p2, %p3;''')
    load4(w, '%yp', '%yfull', f'{lab}_Y')
    w(f'''	@%issig bra {lab}_DSIG;
	@%isrelu bra {lab}_DRELU;
	@!%istanh bra {lab}_STORE;''')
    for j in range(4):
        dtanh(w, f'%v{j}', f'%o{j}', f'%e{j}')
    w(f'''	bra {lab}_STORE;
{lab}_DSIG:''')
    for j in range(4):
        dsigmoid(w, f'%v{j}', f'%o{j}', f'%e{j}')
    w(f'''	bra {lab}_STORE;
{lab}_DRELU:''')
    for j in range(4):
        drelu(w, f'%v{j}', f'%o{j}', '%p5')
    w(f'{lab}_STORE:')
    store4(w, lab)


def group_preds(w):
    """Sets %full (a float4 at %cp: all 4 columns inside C, 16-byte
    aligned) and %q1..3 (columns 1..3 inside C) from %cp and %cnt."""
    w(f'''{aligned16('%cp')}
	setp.eq.s32 %p3, %cnt, 4;
	and.pred %full, %p2, %p3;
	setp.gt.s32 %q1, %cnt, 1;
	setp.gt.s32 %q2, %cnt, 2;
	setp.gt.s32 %q3, %cnt, 3;''')


def store4(w, lab):
    """Stores %v0..3 at %cp as group_preds says, then goes to lab_DONE."""
    w(f'''	@!%full bra {lab}_SSCALAR;
	st.global.v4.f32 [%cp], {{%v0, %v1, %v2, %v3}};
	bra {lab}_DONE;
{lab}_SSCALAR:
	st.global.f32 [%cp], %v0;
	@%q1 st.global.f32 [%cp+4], %v1;
	@%q2 st.global.f32 [%cp+8], %v2;
	@%q3 st.global.f32 [%cp+12], %v3;''')


def grid_rows(w, loop, done):
    """The 2-D walk of scale: column %r7 (threads at
    or past n, in %r2, go to done), its offset in %rd2, rows from %r8 in
    steps of %r9 while below m (%r1); loop heads each row."""
    w(f'''	mov.u32 %r4, %ctaid.x;
	mov.u32 %r5, %ntid.x;
	mov.u32 %r6, %tid.x;
	mad.lo.s32 %r7, %r4, %r5, %r6;
	setp.ge.u32 %p1, %r7, %r2;
	@%p1 bra {done};
	mov.u32 %r4, %ctaid.y;
	mov.u32 %r5, %ntid.y;
	mov.u32 %r6, %tid.y;
	mad.lo.s32 %r8, %r4, %r5, %r6;
	mov.u32 %r4, %nctaid.y;
	mul.lo.s32 %r9, %r4, %r5;
	cvt.u64.u32 %rd2, %r7;
{loop}:
	setp.ge.u32 %p2, %r8, %r1;
	@%p2 bra {done};''')


def scale_kernel(w):
    w('''// scale sets C = beta*C for the m x n matrix C with leading dimension ldc,
// writing zeros without reading C when beta == 0 (C may hold NaN).
// Grid: (ceil(n/32), min(ceil(m/8), 65535)); block: (32, 8).
.visible .entry scale(
	.param .u64 c,
	.param .u32 m,
	.param .u32 n,
	.param .u32 ldc,
	.param .f32 beta
)
{
	.reg .pred %p<4>;
	.reg .b32 %r<12>;
	.reg .b64 %rd<6>;
	.reg .f32 %f<4>;

	ld.param.u64 %rd1, [c];
	cvta.to.global.u64 %rd1, %rd1;
	ld.param.u32 %r1, [m];
	ld.param.u32 %r2, [n];
	ld.param.u32 %r3, [ldc];
	ld.param.f32 %f1, [beta];
	setp.eq.f32 %p3, %f1, 0f00000000;''')
    grid_rows(w, 'SCALE_LOOP', 'SCALE_DONE')
    w('''	mul.wide.u32 %rd3, %r8, %r3;
	add.s64 %rd3, %rd3, %rd2;
	shl.b64 %rd3, %rd3, 2;
	add.s64 %rd4, %rd1, %rd3;
	mov.f32 %f2, 0f00000000;
	@!%p3 ld.global.f32 %f2, [%rd4];
	@!%p3 mul.rn.f32 %f2, %f2, %f1;
	st.global.f32 [%rd4], %f2;
	add.s32 %r8, %r8, %r9;
	bra SCALE_LOOP;
SCALE_DONE:
	ret;
}''')

BIG = Cfg('sgemm', 128, 8, '''// SGEMM for row-major matrices: C = act(alpha*op(A)*op(B) + beta*C).
//
// Grid: (ceil(n/128), ceil(m/128), splits); block: 256 threads. Each block
// computes a 128x128 tile of C; each thread an 8x8 register tile made of
// the rows {ty*4+i, 64+ty*4+i} and the columns {tx*4+j, 64+tx*4+j}, i, j <
// 4, where tx = tid%16 and ty = tid/16. K is walked in steps of BK = 8
// through two shared-memory buffers (double buffering, one bar.sync per
// step). Both operands are stored k-major in shared memory (As[kk][i],
// Bs[kk][j], rows padded to 132 floats), so the A tile is transposed on
// the way in when A is not transposed.''')

SMALL = Cfg('sgemm64', 64, 16, '''// sgemm64 is sgemm (sgemm.ptx) with a 64x64 tile of C per block, for
// products with fewer 128x128 tiles than the GPU has multiprocessors: four
// times as many blocks, each with a quarter of the work, and about half
// of the registers, so that several blocks share a multiprocessor.
//
// Grid: (ceil(n/64), ceil(m/64), splits); block: 256 threads. Each thread
// computes a 4x4 register tile: rows ty*4+i and columns tx*4+j, i, j < 4,
// where tx = tid%16 and ty = tid/16. K is walked in steps of BK = 16
// through two shared-memory buffers (one bar.sync per step); both operands
// are stored k-major (As[kk][i], Bs[kk][j], rows padded to 68 floats).''')

COMMON_DOC = '''//
// Each thread loads 4 contiguous floats of A and 4 of B per step: a float4
// when all four are inside the matrix and the address is 16-byte aligned,
// otherwise element by element with bounds checks (zeros outside). Which 4
// depends on the transpose (bit 0 of trans for A, bit 1 for B): along k for
// A (m x k, NoTrans) and B (n x k, Trans), along m or n otherwise.
//
// Block z of the grid works on the slice of k from z*kslice (kslice >= k
// without a split). With more than one slice (a split product), each
// block stores alpha times its partial product to W_z, the m x n matrix
// at w + z*mn4 floats (leading dimension n; mn4 is m*n rounded up to a
// multiple of 4, and w must be 16-byte aligned, so that each slice has
// 16-byte units of its own; m*n < 2^30), and counts itself in at the
// u32 counts[ctaid.y*nctaid.x + ctaid.x], which must be 0 at the launch;
// the tile's last block to arrive sums W_0 + W_1 + ... in the order of z,
// so that the result does not depend on timing, finishes C from that sum
// as below, and leaves the counter at 0 again.
//
''' + ACT_DOC + '''
//
// The launcher handles alpha == 0 and k == 0 with the scale kernel
// instead; the kernel itself would also give act(beta*C) for k == 0.'''


def module(cfgs, extra, path):
    L = []
    w = L.append
    w('// Code generated by _asmgen/sgemm_ptx.py. DO NOT EDIT by hand: change the\n'
      '// generator and run it again.\n//')
    for c in cfgs:
        w(c.doc + COMMON_DOC)
        target, bufs = 'sm_52', '2 buffers'
        if c.stages:
            target, bufs = 'sm_80', f'{c.stages} stages'
        w(f'''
.version 7.0
.target {target}
.address_size 64

// [{bufs}][A, B][{c.bk}][{c.tile + 4}] floats.
.shared .align 16 .b8 {c.name}_smem[{c.smem}];
''')
        kernel(c, w)
    for e in extra:
        w('')
        e(w)
    text = '\n'.join(L) + '\n'
    with open(path, 'w') as f:
        f.write(text)


ASYNC_DOC = '''//
// This is the sm_80 form of the module (ptx/sm80/): the same kernels, but
// each thread's loads of A and B go straight to shared memory with
// cp.async, through STAGES stages, instead of through registers and two
// buffers; the launcher loads it on GPUs of compute capability 8.0 and
// later, and the portable module (ptx/) elsewhere or if this one fails to
// load.'''


def async_cfg(c, min_blocks, stages=3):
    return Cfg(c.name, c.tile, c.bk, c.doc + ASYNC_DOC.replace('STAGES', str(stages)), stages, min_blocks)


module([BIG], [scale_kernel], 'ptx/sgemm.ptx')
module([SMALL], [], 'ptx/sgemm64.ptx')
module([async_cfg(BIG, 1)], [scale_kernel], 'ptx/sm80/sgemm.ptx')
module([async_cfg(SMALL, 4)], [], 'ptx/sm80/sgemm64.ptx')
