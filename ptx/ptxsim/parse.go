// Package ptxsim interprets the subset of PTX that the kernels of package
// ptx use, on the CPU, so that their logic can be tested on machines
// without a GPU.
//
// It runs the blocks of a launch one after the other, in an order drawn
// anew for each launch, and every thread of a block until the thread
// reaches a barrier (bar.sync), a warp-wide shuffle (shfl.sync) or its end,
// then resolves the shuffles and barriers, so the results are those of any
// legal schedule. It reports as errors what would be undefined or wrong on
// a GPU: global accesses outside the allocations, misaligned accesses,
// shared-memory races between barriers, two blocks of a launch writing the
// same global word, a block reading another's write without the release
// and acquire patterns between them (see global.go), shuffles that not
// all 32 lanes of a warp reach together,
// barriers that some threads of the block never reach, reads of
// undeclared registers and unknown instructions.
//
// It does not model timing, caches, the atomic hand-off between blocks
// (blocks never overlap), or rounding differences of the approximate
// instructions (ex2.approx and lg2.approx are computed exactly).
package ptxsim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gokernels/gemm/ptx"
)

// Module is a parsed PTX module.
type Module struct {
	funcs      map[string]*function
	shared     map[string]int // module-scope .shared variables: offset in a block's shared memory
	sharedSize int
}

type function struct {
	name    string
	params  []param
	regs    map[string]int
	nregs   int
	insts   []inst
	labels  map[string]int
	maxntid int
}

type param struct {
	name string
	typ  ptx.Type
}

type opKind uint8

const (
	okReg opKind = iota + 1
	okImm
	okSpecial
	okAddr
	okVec
	okLabel
	okSym
)

type operand struct {
	kind  opKind
	reg   int    // okReg; okAddr base register, or -1
	imm   uint64 // okImm bits; okAddr offset
	fimm  bool   // a float immediate (0f...)
	spec  int    // okSpecial
	sym   string // okAddr symbol (parameter or shared variable), okSym, okLabel
	vec   []int  // okVec registers
	label int    // okLabel target
}

// Special registers.
const (
	spTidX = iota
	spTidY
	spTidZ
	spNtidX
	spNtidY
	spNtidZ
	spCtaidX
	spCtaidY
	spCtaidZ
	spNctaidX
	spNctaidY
	spNctaidZ
	spLaneid
)

var specials = map[string]int{
	"%tid.x": spTidX, "%tid.y": spTidY, "%tid.z": spTidZ,
	"%ntid.x": spNtidX, "%ntid.y": spNtidY, "%ntid.z": spNtidZ,
	"%ctaid.x": spCtaidX, "%ctaid.y": spCtaidY, "%ctaid.z": spCtaidZ,
	"%nctaid.x": spNctaidX, "%nctaid.y": spNctaidY, "%nctaid.z": spNctaidZ,
	"%laneid": spLaneid,
}

type inst struct {
	line     int
	text     string
	op       string
	mods     []string
	typ      string // the last type modifier: f32, u32, s32, b32, u64, s64, b64, pred
	typ2     string // cvt's source type
	guard    int    // predicate register, -1 for none
	guardNeg bool
	args     []operand
}

func (in *inst) has(mod string) bool {
	for _, m := range in.mods {
		if m == mod {
			return true
		}
	}
	return false
}

// Parse parses the PTX module src.
func Parse(src string) (*Module, error) {
	text := ptx.StripComments(src)
	m := &Module{funcs: map[string]*function{}, shared: map[string]int{}}
	lines := strings.Split(text, "\n")
	var fn *function
	depth := 0
	inParams := false
	for ln, raw := range lines {
		line := strings.TrimSpace(raw)
		lineNo := ln + 1
		for line != "" {
			switch {
			case fn == nil && strings.HasPrefix(line, ".version"),
				fn == nil && strings.HasPrefix(line, ".target"),
				fn == nil && strings.HasPrefix(line, ".address_size"):
				line = ""
				continue
			case fn == nil && strings.HasPrefix(line, ".shared"):
				stmt, rest, _ := strings.Cut(line, ";")
				if err := m.declShared(stmt); err != nil {
					return nil, fmt.Errorf("line %d: %v", lineNo, err)
				}
				line = strings.TrimSpace(rest)
				continue
			case fn == nil && strings.Contains(line, ".entry"):
				i := strings.Index(line, ".entry")
				rest := strings.TrimSpace(line[i+len(".entry"):])
				name, after, _ := strings.Cut(rest, "(")
				fn = &function{name: strings.TrimSpace(name), regs: map[string]int{}, labels: map[string]int{}}
				if _, dup := m.funcs[fn.name]; dup {
					return nil, fmt.Errorf("line %d: entry %s defined twice", lineNo, fn.name)
				}
				m.funcs[fn.name] = fn
				inParams = true
				line = strings.TrimSpace(after)
				continue
			case fn != nil && inParams:
				if strings.HasPrefix(line, ")") {
					inParams = false
					line = strings.TrimSpace(line[1:])
					continue
				}
				decl, rest, _ := strings.Cut(line, ",")
				if strings.Contains(decl, ")") {
					decl, rest, _ = strings.Cut(line, ")")
					rest = ")" + rest
				}
				decl = strings.TrimSpace(decl)
				if decl != "" {
					ks, err := ptx.ParseEntries(".entry x(" + decl + ")")
					if err != nil {
						return nil, fmt.Errorf("line %d: %v", lineNo, err)
					}
					p := ks[0].Params[0]
					fn.params = append(fn.params, param{p.Name, p.Type})
				}
				line = strings.TrimSpace(rest)
				continue
			case fn != nil && depth == 0 && strings.HasPrefix(line, ".maxntid"):
				f := strings.FieldsFunc(line[len(".maxntid"):], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '{' })
				n := 1
				for _, s := range f {
					v, err := strconv.Atoi(s)
					if err != nil {
						break
					}
					n *= v
				}
				fn.maxntid = n
				line = strings.TrimSpace(line[strings.IndexAny(line+"{", "{"):])
				continue
			case fn != nil && depth == 0 && (strings.HasPrefix(line, ".minnctapersm") || strings.HasPrefix(line, ".maxnreg")):
				// Occupancy hints for ptxas: nothing to simulate.
				line = strings.TrimSpace(line[strings.IndexAny(line+"{", "{"):])
				continue
			case fn != nil && strings.HasPrefix(line, "{"):
				depth++
				line = strings.TrimSpace(line[1:])
				continue
			case fn != nil && strings.HasPrefix(line, "}"):
				depth--
				line = strings.TrimSpace(line[1:])
				if depth == 0 {
					fn = nil
				}
				continue
			case fn != nil && depth > 0:
				// A label?
				if i := strings.IndexByte(line, ':'); i > 0 && ptx.IsIdent(line[:i]) {
					l := line[:i]
					if _, dup := fn.labels[l]; dup {
						return nil, fmt.Errorf("line %d: label %s defined twice", lineNo, l)
					}
					fn.labels[l] = len(fn.insts)
					line = strings.TrimSpace(line[i+1:])
					continue
				}
				stmt, rest, ok := strings.Cut(line, ";")
				if !ok {
					return nil, fmt.Errorf("line %d: statement without ';': %q", lineNo, line)
				}
				line = strings.TrimSpace(rest)
				stmt = strings.TrimSpace(stmt)
				if strings.HasPrefix(stmt, ".reg") {
					if err := fn.declRegs(stmt); err != nil {
						return nil, fmt.Errorf("line %d: %v", lineNo, err)
					}
					continue
				}
				in, err := fn.parseInst(stmt)
				if err != nil {
					return nil, fmt.Errorf("line %d: %s: %v", lineNo, stmt, err)
				}
				in.line = lineNo
				in.text = stmt
				fn.insts = append(fn.insts, in)
				continue
			default:
				return nil, fmt.Errorf("line %d: unexpected %q", lineNo, line)
			}
		}
	}
	if fn != nil {
		return nil, fmt.Errorf("entry %s: missing }", fn.name)
	}
	// Resolve labels and symbols.
	for _, f := range m.funcs {
		for i := range f.insts {
			in := &f.insts[i]
			for j := range in.args {
				a := &in.args[j]
				switch a.kind {
				case okLabel:
					pc, ok := f.labels[a.sym]
					if !ok {
						return nil, fmt.Errorf("line %d: %s: unknown label %s", in.line, f.name, a.sym)
					}
					a.label = pc
				case okSym:
					if _, ok := m.shared[a.sym]; !ok {
						return nil, fmt.Errorf("line %d: %s: unknown symbol %s", in.line, f.name, a.sym)
					}
				case okAddr:
					if a.sym == "" {
						continue
					}
					if _, ok := m.shared[a.sym]; ok {
						continue
					}
					found := false
					for _, p := range f.params {
						found = found || p.name == a.sym
					}
					if !found {
						return nil, fmt.Errorf("line %d: %s: unknown symbol %s", in.line, f.name, a.sym)
					}
				}
			}
		}
	}
	return m, nil
}

// declShared handles ".shared .align A .b8 name[N]".
func (m *Module) declShared(stmt string) error {
	f := strings.Fields(stmt)
	align := 1
	var decl string
	for i := 1; i < len(f); i++ {
		switch {
		case f[i] == ".align" && i+1 < len(f):
			a, err := strconv.Atoi(f[i+1])
			if err != nil {
				return err
			}
			align = a
			i++
		case f[i] == ".b8":
		default:
			decl = f[i]
		}
	}
	name, size, ok := strings.Cut(decl, "[")
	if !ok {
		return fmt.Errorf("unsupported .shared declaration %q", stmt)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(size, "]"))
	if err != nil {
		return fmt.Errorf("bad size in %q", stmt)
	}
	off := (m.sharedSize + align - 1) / align * align
	m.shared[name] = off
	m.sharedSize = off + n
	return nil
}

// declRegs handles ".reg .type %a, %b<N>, ...".
func (f *function) declRegs(stmt string) error {
	rest := strings.TrimSpace(strings.TrimPrefix(stmt, ".reg"))
	_, names, ok := strings.Cut(rest, " ")
	if !ok {
		return fmt.Errorf("bad register declaration %q", stmt)
	}
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		if base, cnt, ok := strings.Cut(n, "<"); ok {
			c, err := strconv.Atoi(strings.TrimSuffix(cnt, ">"))
			if err != nil {
				return fmt.Errorf("bad register range %q", n)
			}
			for i := range c {
				f.addReg(base + strconv.Itoa(i))
			}
			continue
		}
		f.addReg(n)
	}
	return nil
}

func (f *function) addReg(name string) {
	if _, ok := f.regs[name]; !ok {
		f.regs[name] = f.nregs
		f.nregs++
	}
}

var typeMods = map[string]bool{
	"f32": true, "u32": true, "s32": true, "b32": true,
	"u64": true, "s64": true, "b64": true, "pred": true, "u16": true, "b16": true,
	"u8": true, "b8": true,
}

// parseInst parses one instruction.
func (f *function) parseInst(stmt string) (inst, error) {
	in := inst{guard: -1}
	if strings.HasPrefix(stmt, "@") {
		g, rest, _ := strings.Cut(stmt, " ")
		g = g[1:]
		if strings.HasPrefix(g, "!") {
			in.guardNeg = true
			g = g[1:]
		}
		r, ok := f.regs[g]
		if !ok {
			return in, fmt.Errorf("undeclared predicate %s", g)
		}
		in.guard = r
		stmt = strings.TrimSpace(rest)
	}
	opcode, operands, _ := strings.Cut(stmt, " ")
	parts := strings.Split(opcode, ".")
	in.op = parts[0]
	in.mods = parts[1:]
	for _, m := range in.mods {
		if typeMods[m] {
			if in.typ != "" {
				in.typ2 = m
				continue
			}
			in.typ = m
		}
	}
	if in.op == "cvt" { // cvt.dst.src: typ is the destination, typ2 the source
		var ts []string
		for _, m := range in.mods {
			if typeMods[m] {
				ts = append(ts, m)
			}
		}
		if len(ts) != 2 {
			return in, fmt.Errorf("cvt needs two types")
		}
		in.typ, in.typ2 = ts[0], ts[1]
	}
	for _, s := range splitOperands(operands) {
		a, err := f.parseOperand(s, in.op == "bra")
		if err != nil {
			return in, err
		}
		in.args = append(in.args, a)
	}
	return in, nil
}

func splitOperands(s string) []string {
	var out []string
	depth := 0
	start := 0
	for i, r := range s {
		switch r {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}

func (f *function) reg(name string) (int, error) {
	r, ok := f.regs[name]
	if !ok {
		return 0, fmt.Errorf("undeclared register %s", name)
	}
	return r, nil
}

func (f *function) parseOperand(s string, isBranch bool) (operand, error) {
	switch {
	case strings.HasPrefix(s, "{"):
		var a operand
		a.kind = okVec
		for _, r := range strings.Split(strings.Trim(s, "{}"), ",") {
			ri, err := f.reg(strings.TrimSpace(r))
			if err != nil {
				return a, err
			}
			a.vec = append(a.vec, ri)
		}
		return a, nil
	case strings.HasPrefix(s, "["):
		a := operand{kind: okAddr, reg: -1}
		inner := strings.TrimSpace(strings.Trim(s, "[]"))
		base, off, hasOff := strings.Cut(inner, "+")
		base = strings.TrimSpace(base)
		if hasOff {
			v, err := strconv.ParseInt(strings.TrimSpace(off), 0, 64)
			if err != nil {
				return a, fmt.Errorf("bad offset in %s", s)
			}
			a.imm = uint64(v)
		}
		if strings.HasPrefix(base, "%") {
			r, err := f.reg(base)
			if err != nil {
				return a, err
			}
			a.reg = r
		} else {
			a.sym = base
		}
		return a, nil
	case strings.HasPrefix(s, "%"):
		if sp, ok := specials[s]; ok {
			return operand{kind: okSpecial, spec: sp}, nil
		}
		r, err := f.reg(s)
		if err != nil {
			return operand{}, err
		}
		return operand{kind: okReg, reg: r}, nil
	case strings.HasPrefix(s, "0f") || strings.HasPrefix(s, "0F"):
		v, err := strconv.ParseUint(s[2:], 16, 32)
		if err != nil {
			return operand{}, fmt.Errorf("bad float immediate %s", s)
		}
		return operand{kind: okImm, imm: v, fimm: true}, nil
	case s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9'):
		v, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			u, err2 := strconv.ParseUint(s, 0, 64)
			if err2 != nil {
				return operand{}, fmt.Errorf("bad immediate %s", s)
			}
			v = int64(u)
		}
		return operand{kind: okImm, imm: uint64(v)}, nil
	case ptx.IsIdent(s):
		if isBranch {
			return operand{kind: okLabel, sym: s}, nil
		}
		return operand{kind: okSym, sym: s}, nil
	}
	return operand{}, fmt.Errorf("bad operand %q", s)
}
