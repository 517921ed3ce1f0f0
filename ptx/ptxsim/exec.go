package ptxsim

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Memory is the global memory of a simulated device: a set of allocations.
// Every access must lie inside one of them.
type Memory struct {
	allocs   []allocation // by address
	next     uint64
	launches uint64 // launches so far: seeds each launch's order of blocks
}

type allocation struct {
	addr uint64
	data []byte
}

// NewMemory returns an empty memory. Addresses start above 4 GiB so that
// 32-bit truncations of pointers show up as bad accesses.
func NewMemory() *Memory { return &Memory{next: 1 << 32} }

// Alloc allocates n zeroed bytes, 256-byte aligned, and returns their
// address.
func (m *Memory) Alloc(n int) uint64 {
	a := m.next
	m.allocs = append(m.allocs, allocation{a, make([]byte, n)})
	m.next += (uint64(n) + 256 + 255) &^ 255 // a gap after each allocation
	return a
}

// Map adds data, memory the caller owns (such as a device allocation of a
// fake driver, in host memory), to m at address addr: launches read and
// write it in place. It panics if data is empty or overlaps an
// allocation of m.
func (m *Memory) Map(addr uint64, data []byte) {
	end := addr + uint64(len(data))
	if len(data) == 0 || end < addr {
		panic(fmt.Sprintf("ptxsim: Map of %d bytes at %#x", len(data), addr))
	}
	i := sort.Search(len(m.allocs), func(i int) bool { return m.allocs[i].addr >= addr })
	if i > 0 && m.allocs[i-1].addr+uint64(len(m.allocs[i-1].data)) > addr || i < len(m.allocs) && m.allocs[i].addr < end {
		panic(fmt.Sprintf("ptxsim: Map of %d bytes at %#x overlaps an allocation", len(data), addr))
	}
	m.allocs = slices.Insert(m.allocs, i, allocation{addr, data})
	if end > m.next {
		m.next = (end + 256 + 255) &^ 255
	}
}

func (m *Memory) bytes(addr uint64, n int) ([]byte, error) {
	i := sort.Search(len(m.allocs), func(i int) bool { return m.allocs[i].addr+uint64(len(m.allocs[i].data)) > addr })
	if i == len(m.allocs) || addr < m.allocs[i].addr || addr+uint64(n) > m.allocs[i].addr+uint64(len(m.allocs[i].data)) {
		return nil, fmt.Errorf("global access of %d bytes at %#x is outside every allocation", n, addr)
	}
	off := addr - m.allocs[i].addr
	return m.allocs[i].data[off : off+uint64(n)], nil
}

// Bytes returns the n bytes at addr, which must lie inside one
// allocation: the memory itself, not a copy.
func (m *Memory) Bytes(addr uint64, n int) ([]byte, error) { return m.bytes(addr, n) }

// AllocFloat32s allocates len(v) floats holding v.
func (m *Memory) AllocFloat32s(v []float32) uint64 {
	a := m.Alloc(4 * len(v))
	m.WriteFloat32s(a, v)
	return a
}

// AllocUint32s allocates len(v) uint32 values holding v.
func (m *Memory) AllocUint32s(v []uint32) uint64 {
	a := m.Alloc(4 * len(v))
	b, err := m.bytes(a, 4*len(v))
	if err != nil {
		panic(err)
	}
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return a
}

// WriteFloat32s stores v at addr.
func (m *Memory) WriteFloat32s(addr uint64, v []float32) {
	b, err := m.bytes(addr, 4*len(v))
	if err != nil {
		panic(err)
	}
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
}

// Float32s returns the n floats at addr.
func (m *Memory) Float32s(addr uint64, n int) []float32 {
	b, err := m.bytes(addr, 4*n)
	if err != nil {
		panic(err)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// Dim3 is a grid or block size; zero components count as 1.
type Dim3 struct{ X, Y, Z int }

func (d Dim3) norm() Dim3 {
	return Dim3{max(d.X, 1), max(d.Y, 1), max(d.Z, 1)}
}

// F32 returns the argument bits of a float parameter.
func F32(v float32) uint64 { return uint64(math.Float32bits(v)) }

// MaxSteps bounds the instructions one launch may execute.
const MaxSteps = 1 << 30

type threadState uint8

const (
	running threadState = iota
	atBar
	atShfl
	done
)

type thread struct {
	regs  []uint64
	def   []bool
	pc    int
	state threadState
	tid   [3]int
	idx   int
	async asyncState
	// The release and acquire of global writes between blocks: see
	// global.go.
	written, published []uint64
	atomic, acquired   bool
}

type word struct {
	wEpoch, writer, rEpoch, reader int32
	inFlight                       int32 // 1 + the thread whose cp.async to it is in flight, or 0
}

type block struct {
	mod     *Module
	f       *function
	mem     *Memory
	args    []uint64
	ctaid   [3]int
	id      int32 // the index of ctaid in the grid, x fastest
	ntid    [3]int
	nctaid  [3]int
	shared  []byte
	words   []word
	epoch   int32
	threads []thread
	steps   *int
	writes  map[uint64]globalWrite // the launch's, shared by its blocks
	// Global words written before the last barrier and not published
	// since, and the epoch in which a thread acquired (-1: none).
	written       []uint64
	acquiredEpoch int32
}

// Launch runs kernel name over grid×block threads with the given
// parameter values (raw bits: pointers and integers as they are, floats
// through F32).
func (m *Module) Launch(mem *Memory, name string, grid, blk Dim3, args ...uint64) error {
	f, ok := m.funcs[name]
	if !ok {
		return fmt.Errorf("ptxsim: no entry %s", name)
	}
	if len(args) != len(f.params) {
		return fmt.Errorf("ptxsim: %s takes %d parameters, got %d", name, len(f.params), len(args))
	}
	grid, blk = grid.norm(), blk.norm()
	n := blk.X * blk.Y * blk.Z
	if n > 1024 || f.maxntid > 0 && n > f.maxntid {
		return fmt.Errorf("ptxsim: %s: %d threads per block is too many", name, n)
	}
	// The blocks run one after the other, in an order drawn anew for each
	// launch, so that a kernel that relies on an order of blocks (which a
	// GPU does not keep) fails in some launch.
	mem.launches++
	nb := grid.X * grid.Y * grid.Z
	order := rand.New(rand.NewPCG(mem.launches, uint64(nb)<<32^mem.next)).Perm(nb)
	steps := 0
	writes := map[uint64]globalWrite{}
	for _, i := range order {
		bx, by, bz := i%grid.X, i/grid.X%grid.Y, i/(grid.X*grid.Y)
		b := &block{
			mod: m, f: f, mem: mem, args: args,
			ctaid:  [3]int{bx, by, bz},
			id:     int32(i),
			ntid:   [3]int{blk.X, blk.Y, blk.Z},
			nctaid: [3]int{grid.X, grid.Y, grid.Z},
			shared: make([]byte, m.sharedSize),
			words:  make([]word, (m.sharedSize+3)/4),
			steps:  &steps,
			writes: writes,

			acquiredEpoch: -1,
		}
		for i := range b.words {
			b.words[i] = word{-1, -1, -1, -1, 0}
		}
		if err := b.run(); err != nil {
			return fmt.Errorf("ptxsim: %s block (%d,%d,%d): %v", name, bx, by, bz, err)
		}
	}
	return nil
}

func (b *block) run() error {
	n := b.ntid[0] * b.ntid[1] * b.ntid[2]
	b.threads = make([]thread, n)
	for i := range b.threads {
		t := &b.threads[i]
		t.regs = make([]uint64, b.f.nregs)
		t.def = make([]bool, b.f.nregs)
		t.idx = i
		t.tid = [3]int{i % b.ntid[0], i / b.ntid[0] % b.ntid[1], i / (b.ntid[0] * b.ntid[1])}
	}
	for {
		for i := range b.threads {
			t := &b.threads[i]
			if t.state == running {
				if err := b.exec(t); err != nil {
					in := b.f.insts[min(t.pc, len(b.f.insts)-1)]
					return fmt.Errorf("thread (%d,%d,%d), line %d (%s): %v", t.tid[0], t.tid[1], t.tid[2], in.line, in.text, err)
				}
			}
		}
		all := true
		for i := range b.threads {
			all = all && b.threads[i].state == done
		}
		if all {
			return nil
		}
		shuffled := false
		for w := 0; w*32 < n; w++ {
			lanes := b.threads[w*32 : min(w*32+32, n)]
			any := false
			for i := range lanes {
				any = any || lanes[i].state == atShfl
			}
			if !any {
				continue
			}
			if err := b.shuffle(lanes); err != nil {
				return fmt.Errorf("warp %d: %v", w, err)
			}
			shuffled = true
		}
		if shuffled {
			continue
		}
		for i := range b.threads {
			t := &b.threads[i]
			if t.state != atBar {
				return fmt.Errorf("thread %d exited while others wait at bar.sync (line %d)", i, b.f.insts[b.threads[firstAt(b.threads, atBar)].pc-1].line)
			}
		}
		for i := range b.threads {
			b.threads[i].state = running
		}
		b.barrier()
		b.epoch++
	}
}

func firstAt(ts []thread, s threadState) int {
	for i := range ts {
		if ts[i].state == s {
			return i
		}
	}
	return 0
}

func (b *block) shuffle(lanes []thread) error {
	if len(lanes) != 32 {
		return fmt.Errorf("shfl.sync in a warp of %d threads", len(lanes))
	}
	pc := lanes[0].pc
	for i := range lanes {
		if lanes[i].state != atShfl || lanes[i].pc != pc {
			return fmt.Errorf("shfl.sync (line %d) not reached by all 32 lanes together (lane %d is elsewhere)", b.f.insts[pc].line, i)
		}
	}
	in := &b.f.insts[pc]
	var vals [32]uint64
	for i := range lanes {
		t := &lanes[i]
		if v, err := b.val(t, &in.args[4], "b32"); err != nil {
			return err
		} else if uint32(v) != 0xffffffff {
			return fmt.Errorf("shfl.sync with member mask %#x", v)
		}
		lane := i
		bv, err := b.val(t, &in.args[2], "b32")
		if err != nil {
			return err
		}
		cv, err := b.val(t, &in.args[3], "b32")
		if err != nil {
			return err
		}
		maxLane := int(cv & 31)
		j := lane
		switch {
		case in.has("bfly"):
			j = lane ^ int(bv&31)
			if j > maxLane {
				j = lane
			}
		case in.has("down"):
			j = lane + int(bv&31)
			if j > maxLane {
				j = lane
			}
		case in.has("up"):
			j = lane - int(bv&31)
			if j < 0 {
				j = lane
			}
		case in.has("idx"):
			j = int(bv & 31)
		default:
			return fmt.Errorf("unsupported shfl mode")
		}
		v, err := b.val(&lanes[j], &in.args[1], "b32")
		if err != nil {
			return err
		}
		vals[i] = v
	}
	for i := range lanes {
		b.set(&lanes[i], &in.args[0], vals[i], "b32")
		lanes[i].pc++
		lanes[i].state = running
	}
	return nil
}

// exec runs t until it blocks or finishes.
func (b *block) exec(t *thread) error {
	insts := b.f.insts
	for {
		if t.pc >= len(insts) {
			return t.exit()
		}
		*b.steps++
		if *b.steps > MaxSteps {
			return fmt.Errorf("more than %d steps", MaxSteps)
		}
		in := &insts[t.pc]
		if in.guard >= 0 {
			if !t.def[in.guard] {
				return fmt.Errorf("predicate read before it is set")
			}
			if (t.regs[in.guard] != 0) == in.guardNeg {
				t.pc++
				continue
			}
		}
		switch in.op {
		case "bar":
			t.state = atBar
			t.pc++
			return nil
		case "shfl":
			t.state = atShfl
			return nil
		case "ret", "exit":
			return t.exit()
		case "bra":
			t.pc = in.args[0].label
			continue
		}
		if err := b.step(t, in); err != nil {
			return err
		}
		t.pc++
	}
}

func mask(typ string) uint64 {
	switch typ {
	case "u64", "s64", "b64":
		return math.MaxUint64
	case "pred":
		return 1
	case "u16", "b16":
		return 0xffff
	case "u8", "b8":
		return 0xff
	}
	return 0xffffffff
}

func (b *block) special(t *thread, s int) uint64 {
	switch s {
	case spTidX, spTidY, spTidZ:
		return uint64(t.tid[s-spTidX])
	case spNtidX, spNtidY, spNtidZ:
		return uint64(b.ntid[s-spNtidX])
	case spCtaidX, spCtaidY, spCtaidZ:
		return uint64(b.ctaid[s-spCtaidX])
	case spNctaidX, spNctaidY, spNctaidZ:
		return uint64(b.nctaid[s-spNctaidX])
	case spLaneid:
		return uint64(t.idx % 32)
	}
	return 0
}

func (b *block) val(t *thread, a *operand, typ string) (uint64, error) {
	switch a.kind {
	case okReg:
		if !t.def[a.reg] {
			return 0, fmt.Errorf("register read before it is set")
		}
		return t.regs[a.reg] & mask(typ), nil
	case okImm:
		return a.imm & mask(typ), nil
	case okSpecial:
		return b.special(t, a.spec), nil
	case okSym:
		return uint64(b.mod.shared[a.sym]), nil
	}
	return 0, fmt.Errorf("bad source operand")
}

func (b *block) set(t *thread, a *operand, v uint64, typ string) {
	t.regs[a.reg] = v & mask(typ)
	t.def[a.reg] = true
}

func f32(v uint64) float32  { return math.Float32frombits(uint32(v)) }
func bits(f float32) uint64 { return uint64(math.Float32bits(f)) }

func size(typ string) int {
	switch typ {
	case "u64", "s64", "b64":
		return 8
	case "u16", "b16":
		return 2
	case "u8", "b8":
		return 1
	}
	return 4
}

// addr returns the address of a memory operand and the state space.
func (b *block) addr(t *thread, in *inst, a *operand) (uint64, string, error) {
	space := in.mods[0]
	var base uint64
	switch {
	case a.reg >= 0:
		if !t.def[a.reg] {
			return 0, "", fmt.Errorf("address register read before it is set")
		}
		base = t.regs[a.reg]
	case space == "shared":
		off, ok := b.mod.shared[a.sym]
		if !ok {
			return 0, "", fmt.Errorf("unknown shared variable %s", a.sym)
		}
		base = uint64(off)
	}
	return base + a.imm, space, nil
}

func vecLen(in *inst) int {
	switch {
	case in.has("v4"):
		return 4
	case in.has("v2"):
		return 2
	}
	return 1
}

// access resolves the address of an n-byte load or store and checks its
// alignment and, in shared memory, its bounds. For global memory it also
// returns the bytes.
func (b *block) access(t *thread, in *inst, a *operand, n int) (addr uint64, space string, global []byte, err error) {
	addr, space, err = b.addr(t, in, a)
	if err != nil {
		return 0, "", nil, err
	}
	if addr%uint64(n) != 0 {
		return 0, "", nil, fmt.Errorf("misaligned %s access of %d bytes at %#x", space, n, addr)
	}
	switch space {
	case "global":
		global, err = b.mem.bytes(addr, n)
		return addr, space, global, err
	case "shared":
		if n < 4 {
			// The race and initialisation checks track 4-byte words.
			return 0, "", nil, fmt.Errorf("shared access of %d bytes: only words and vectors of them are simulated", n)
		}
		if addr+uint64(n) > uint64(len(b.shared)) {
			return 0, "", nil, fmt.Errorf("shared access of %d bytes at %#x is outside the %d bytes of shared memory", n, addr, len(b.shared))
		}
		return addr, space, nil, nil
	}
	return 0, "", nil, fmt.Errorf("unsupported state space %s", space)
}

func (b *block) load(t *thread, in *inst, a *operand, n int) ([]byte, error) {
	addr, space, global, err := b.access(t, in, a, n)
	if err == nil && space == "global" {
		err = b.globalRead(t, addr, n)
	}
	if err != nil || space == "global" {
		return global, err
	}
	for w := addr / 4; w < (addr+uint64(n))/4; w++ {
		if err := b.inFlight(w); err != nil {
			return nil, err
		}
		s := &b.words[w]
		if s.wEpoch < 0 {
			return nil, fmt.Errorf("read of uninitialised shared memory at %#x", 4*w)
		}
		if s.wEpoch == b.epoch && s.writer != int32(t.idx) {
			return nil, fmt.Errorf("shared-memory race: thread %d reads %#x that thread %d wrote since the last barrier", t.idx, 4*w, s.writer)
		}
		if s.rEpoch == b.epoch && s.reader != int32(t.idx) {
			s.reader = -2
		} else {
			s.rEpoch, s.reader = b.epoch, int32(t.idx)
		}
	}
	return b.shared[addr : addr+uint64(n)], nil
}

func (b *block) store(t *thread, in *inst, a *operand, n int) ([]byte, error) {
	addr, space, global, err := b.access(t, in, a, n)
	if err == nil && space == "global" {
		err = b.globalWrite(t, addr, n)
	}
	if err != nil || space == "global" {
		return global, err
	}
	return b.sharedStore(t, addr, n)
}

// sharedStore returns the n bytes of shared memory at addr for t to write,
// after the checks for copies in flight and races (complete clears its
// copies' words in flight first).
func (b *block) sharedStore(t *thread, addr uint64, n int) ([]byte, error) {
	for w := addr / 4; w < (addr+uint64(n))/4; w++ {
		if err := b.inFlight(w); err != nil {
			return nil, err
		}
		s := &b.words[w]
		if s.wEpoch == b.epoch && s.writer != int32(t.idx) {
			return nil, fmt.Errorf("shared-memory race: threads %d and %d write %#x between two barriers", s.writer, t.idx, 4*w)
		}
		if s.rEpoch == b.epoch && s.reader != int32(t.idx) {
			return nil, fmt.Errorf("shared-memory race: thread %d writes %#x that thread %d read since the last barrier", t.idx, 4*w, s.reader)
		}
		s.wEpoch, s.writer = b.epoch, int32(t.idx)
	}
	return b.shared[addr : addr+uint64(n)], nil
}

func getLE(p []byte, n int) uint64 {
	switch n {
	case 1:
		return uint64(p[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(p))
	case 8:
		return binary.LittleEndian.Uint64(p)
	}
	return uint64(binary.LittleEndian.Uint32(p))
}

func putLE(p []byte, n int, v uint64) {
	switch n {
	case 1:
		p[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(p, uint16(v))
	case 8:
		binary.LittleEndian.PutUint64(p, v)
	default:
		binary.LittleEndian.PutUint32(p, uint32(v))
	}
}

// step executes one instruction other than a branch, barrier, shuffle or
// return.
func (b *block) step(t *thread, in *inst) error {
	typ := in.typ
	src := func(i int) (uint64, error) { return b.val(t, &in.args[i], typ) }
	// src12 reads the two source operands of a comparison or a selection.
	src12 := func() (x, y uint64, err error) {
		if x, err = src(1); err == nil {
			y, err = src(2)
		}
		return x, y, err
	}
	switch in.op {
	case "cp":
		if !in.has("async") {
			return fmt.Errorf("unsupported cp form")
		}
		return b.cpAsync(t, in)
	case "ld":
		if in.mods[0] == "param" {
			for i, p := range b.f.params {
				if p.name == in.args[1].sym {
					b.set(t, &in.args[0], b.args[i], typ)
					return nil
				}
			}
			return fmt.Errorf("unknown parameter %s", in.args[1].sym)
		}
		n, sz := vecLen(in), size(typ)
		p, err := b.load(t, in, &in.args[1], n*sz)
		if err != nil {
			return err
		}
		dst := in.args[0]
		if dst.kind == okVec {
			for i, r := range dst.vec {
				t.regs[r], t.def[r] = getLE(p[i*sz:], sz), true
			}
			return nil
		}
		b.set(t, &dst, getLE(p, sz), typ)
		return nil
	case "st":
		n, sz := vecLen(in), size(typ)
		var vals []uint64
		if v := in.args[1]; v.kind == okVec {
			for _, r := range v.vec {
				if !t.def[r] {
					return fmt.Errorf("register stored before it is set")
				}
				vals = append(vals, t.regs[r])
			}
		} else {
			x, err := src(1)
			if err != nil {
				return err
			}
			vals = append(vals, x)
		}
		p, err := b.store(t, in, &in.args[0], n*sz)
		if err != nil {
			return err
		}
		for i, v := range vals {
			putLE(p[i*sz:], sz, v)
		}
		return nil
	case "atom":
		if !in.has("global") || !in.has("add") && !in.has("inc") {
			return fmt.Errorf("unsupported atomic")
		}
		x, err := src(2)
		if err != nil {
			return err
		}
		// Atomics are coherent among blocks: not tracked as writes, but
		// they release what the thread's fences published.
		_, _, p, err := b.access(t, in, &in.args[1], 4)
		if err != nil {
			return err
		}
		b.release(t)
		old := getLE(p, 4)
		var nv uint64
		switch {
		case in.has("inc"):
			if uint32(old) >= uint32(x) {
				nv = 0
			} else {
				nv = uint64(uint32(old) + 1)
			}
		case typ == "f32":
			nv = bits(f32(old) + f32(x))
		default:
			nv = uint64(uint32(old) + uint32(x))
		}
		putLE(p, 4, nv)
		b.set(t, &in.args[0], old, typ)
		return nil
	case "membar", "fence":
		if in.has("gl") || in.has("gpu") || in.has("sys") {
			b.fence(t)
		}
		return nil
	case "mov", "cvta":
		x, err := b.val(t, &in.args[1], typ)
		if err != nil {
			return err
		}
		b.set(t, &in.args[0], x, typ)
		return nil
	case "cvt":
		x, err := b.val(t, &in.args[1], in.typ2)
		if err != nil {
			return err
		}
		var r uint64
		switch {
		case in.typ == "f32" && in.typ2 == "u32":
			r = bits(float32(uint32(x)))
		case in.typ == "f32" && in.typ2 == "s32":
			r = bits(float32(int32(uint32(x))))
		case in.typ2 == "s32" && (in.typ == "s64" || in.typ == "u64"):
			r = uint64(int64(int32(uint32(x))))
		case in.typ2 == "f32" && in.typ == "s32":
			r = uint64(uint32(int32(f32(x))))
		default: // integer widening and narrowing
			r = x
		}
		b.set(t, &in.args[0], r, in.typ)
		return nil
	case "setp":
		x, y, err := src12()
		if err != nil {
			return err
		}
		r, err := compare(in.mods[0], typ, x, y)
		if err != nil {
			return err
		}
		v := uint64(0)
		if r {
			v = 1
		}
		b.set(t, &in.args[0], v, "pred")
		return nil
	case "selp":
		x, y, err := src12()
		if err != nil {
			return err
		}
		c, err := b.val(t, &in.args[3], "pred")
		if err != nil {
			return err
		}
		if c == 0 {
			x = y
		}
		b.set(t, &in.args[0], x, typ)
		return nil
	}
	// Arithmetic and logic: gather the sources.
	var xs [3]uint64
	for i := 1; i < len(in.args); i++ {
		v, err := src(i)
		if err != nil {
			return err
		}
		xs[i-1] = v
	}
	r, err := arith(in, xs)
	if err != nil {
		return err
	}
	rt := typ
	if in.op == "mul" && in.has("wide") {
		rt = "u64"
	}
	b.set(t, &in.args[0], r, rt)
	return nil
}

func compare(cmp, typ string, x, y uint64) (bool, error) {
	switch typ {
	case "f32":
		a, b := f32(x), f32(y)
		nan := a != a || b != b
		switch cmp {
		case "eq":
			return !nan && a == b, nil
		case "ne":
			return !nan && a != b, nil
		case "lt":
			return !nan && a < b, nil
		case "le":
			return !nan && a <= b, nil
		case "gt":
			return !nan && a > b, nil
		case "ge":
			return !nan && a >= b, nil
		case "equ":
			return nan || a == b, nil
		case "neu":
			return nan || a != b, nil
		case "ltu":
			return nan || a < b, nil
		case "leu":
			return nan || a <= b, nil
		case "gtu":
			return nan || a > b, nil
		case "geu":
			return nan || a >= b, nil
		}
	case "s32", "s64":
		var a, b int64
		if typ == "s32" {
			a, b = int64(int32(uint32(x))), int64(int32(uint32(y)))
		} else {
			a, b = int64(x), int64(y)
		}
		switch cmp {
		case "eq":
			return a == b, nil
		case "ne":
			return a != b, nil
		case "lt":
			return a < b, nil
		case "le":
			return a <= b, nil
		case "gt":
			return a > b, nil
		case "ge":
			return a >= b, nil
		}
	case "u32", "u64", "b32", "b64":
		switch cmp {
		case "eq":
			return x == y, nil
		case "ne":
			return x != y, nil
		case "lt", "lo":
			return x < y, nil
		case "le", "ls":
			return x <= y, nil
		case "gt", "hi":
			return x > y, nil
		case "ge", "hs":
			return x >= y, nil
		}
	}
	return false, fmt.Errorf("unsupported comparison %s.%s", cmp, typ)
}

// fmin and fmax follow PTX: NaN only when both operands are NaN.
func fmin(a, b float32) float32 {
	switch {
	case a != a:
		return b
	case b != b:
		return a
	}
	return min(a, b)
}

func fmax(a, b float32) float32 {
	switch {
	case a != a:
		return b
	case b != b:
		return a
	}
	return max(a, b)
}

func arith(in *inst, x [3]uint64) (uint64, error) {
	op, typ := in.op, in.typ
	if typ == "f32" {
		a, b, c := f32(x[0]), f32(x[1]), f32(x[2])
		switch op {
		case "add":
			return bits(a + b), nil
		case "sub":
			return bits(a - b), nil
		case "mul":
			return bits(a * b), nil
		case "div":
			return bits(a / b), nil
		case "fma", "mad":
			return bits(float32(math.FMA(float64(a), float64(b), float64(c)))), nil
		case "min":
			return bits(fmin(a, b)), nil
		case "max":
			return bits(fmax(a, b)), nil
		case "abs":
			return bits(float32(math.Abs(float64(a)))), nil
		case "neg":
			return bits(-a), nil
		case "rcp":
			return bits(1 / a), nil
		case "sqrt":
			return bits(float32(math.Sqrt(float64(a)))), nil
		case "ex2":
			return bits(float32(math.Exp2(float64(a)))), nil
		case "lg2":
			return bits(float32(math.Log2(float64(a)))), nil
		}
		return 0, fmt.Errorf("unsupported float operation %s", op)
	}
	wide := typ == "u64" || typ == "s64" || typ == "b64"
	signed := typ == "s32" || typ == "s64"
	a, b, c := x[0], x[1], x[2]
	var r uint64
	switch op {
	case "add":
		r = a + b
	case "sub":
		r = a - b
	case "mul":
		switch {
		case in.has("wide") && signed:
			r = uint64(int64(int32(uint32(a))) * int64(int32(uint32(b))))
		case in.has("wide"):
			r = uint64(uint32(a)) * uint64(uint32(b))
		case in.has("lo"):
			r = a * b
		default:
			return 0, fmt.Errorf("integer mul needs .lo or .wide")
		}
		if in.has("wide") {
			return r, nil
		}
	case "mad":
		if !in.has("lo") {
			return 0, fmt.Errorf("integer mad needs .lo")
		}
		r = a*b + c
	case "min", "max":
		less := a < b
		if signed {
			if wide {
				less = int64(a) < int64(b)
			} else {
				less = int32(uint32(a)) < int32(uint32(b))
			}
		}
		if less == (op == "min") {
			r = a
		} else {
			r = b
		}
	case "and":
		r = a & b
	case "or":
		r = a | b
	case "xor":
		r = a ^ b
	case "not":
		r = ^a
	case "shl":
		r = a << (b & 63)
	case "shr":
		switch {
		case typ == "s32":
			r = uint64(uint32(int32(uint32(a)) >> (b & 31)))
		case typ == "s64":
			r = uint64(int64(a) >> (b & 63))
		default:
			r = a >> (b & 63)
		}
	default:
		return 0, fmt.Errorf("unsupported integer operation %s", op)
	}
	if typ == "pred" {
		return r & 1, nil
	}
	if !wide {
		r &= 0xffffffff
	}
	return r, nil
}
