package ptx_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gokernels/gemm/ptx"
)

// embedded is an embedded file: a portable module or a variant of one.
type embedded struct {
	m       *ptx.Module
	kernels []*ptx.Kernel // the portable module's
	target  string        // as its header declares: ptxas assembles it for this and sm_90
}

// allModules returns the portable modules and their variants.
func allModules() []embedded {
	var out []embedded
	for _, m := range ptx.Modules() {
		out = append(out, embedded{m, m.Kernels, "sm_52"})
		for _, v := range m.Variants {
			sm := fmt.Sprintf("sm_%d0", v.Major)
			out = append(out, embedded{v.Module, m.Kernels, sm})
		}
	}
	return out
}

// TestSignatures checks every entry of every embedded file against the Go
// table that the launchers use: the same kernels, in the same order, with
// the same parameter names and types. A variant has its portable
// module's.
func TestSignatures(t *testing.T) {
	for _, em := range allModules() {
		m := em.m
		entries, err := ptx.ParseEntries(m.Source)
		if err != nil {
			t.Errorf("%s: %v", m.File, err)
			continue
		}
		var names, want []string
		for _, e := range entries {
			names = append(names, e.Name)
		}
		for _, k := range em.kernels {
			want = append(want, k.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("%s: entries %v, table %v", m.File, names, want)
			continue
		}
		if em.kernels[0].Module != m && m.Kernels != nil {
			t.Errorf("%s: a variant with kernels of its own", m.File)
		}
		for i, e := range entries {
			k := em.kernels[i]
			if !slices.Equal(e.Params, k.Params) {
				t.Errorf("%s: %s(%s) in the PTX, %s(%s) in the table", m.File, e.Name, params(e.Params), k.Name, params(k.Params))
			}
		}
	}
}

func params(ps []ptx.Param) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Type.String()+" "+p.Name)
	}
	return strings.Join(s, ", ")
}

// TestEmbeddedFiles checks that every .ptx file of the directory is
// embedded as a module, and the other way round.
func TestEmbeddedFiles(t *testing.T) {
	files, err := filepath.Glob("*.ptx")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := filepath.Glob("sm*/*.ptx")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, sub...)
	var mods []string
	for _, e := range allModules() {
		m := e.m
		mods = append(mods, m.File)
		src, err := os.ReadFile(m.File)
		if err != nil {
			t.Errorf("%s: %v", m.File, err)
		} else if string(src) != m.Source {
			t.Errorf("%s: embedded text differs from the file", m.File)
		}
	}
	slices.Sort(files)
	slices.Sort(mods)
	if !slices.Equal(files, mods) {
		t.Errorf("files %v, modules %v", files, mods)
	}
}

func TestParseEntries(t *testing.T) {
	src := `
	// .entry commented(.param .u32 x)
	.visible .entry k1(
		.param .u64 .ptr.global.align 16 a, /* inline */
		.param .f32 b,
		.param .b32 c
	)
	{ ret; }
	.entry k2() { ret; }`
	ks, err := ptx.ParseEntries(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 || ks[0].Name != "k1" || ks[1].Name != "k2" || len(ks[1].Params) != 0 {
		t.Fatalf("got %+v", ks)
	}
	want := []ptx.Param{{"a", ptx.U64}, {"b", ptx.F32}, {"c", ptx.U32}}
	if !slices.Equal(ks[0].Params, want) {
		t.Errorf("params %v, want %v", ks[0].Params, want)
	}
	for _, bad := range []string{
		".entry k(.param .u32)",
		".entry k(.param .align 8 .b8 s[16])",
		".entry k(.param .f16 h)",
		".entry k(.param .u32 a",
	} {
		if _, err := ptx.ParseEntries(bad); err == nil {
			t.Errorf("ParseEntries(%q) succeeded", bad)
		}
	}
}

// Instructions the portable modules may use: sm_52-era ISA.
var portableOps = map[string]bool{
	"ld": true, "st": true, "mov": true, "cvta": true, "cvt": true,
	"add": true, "sub": true, "mul": true, "mad": true, "fma": true, "div": true,
	"min": true, "max": true, "abs": true, "neg": true, "rcp": true, "sqrt": true,
	"ex2": true, "lg2": true, "and": true, "or": true, "xor": true, "not": true,
	"shl": true, "shr": true, "setp": true, "selp": true, "bra": true, "ret": true,
	"bar": true, "shfl": true, "atom": true, "membar": true,
}

var (
	reRegDecl  = regexp.MustCompile(`^\.reg\s+\.(\w+)\s+(.*)$`)
	reRegUse   = regexp.MustCompile(`%[A-Za-z_$][\w$]*(\.[xyz])?`)
	reLabelDef = regexp.MustCompile(`^([A-Za-z_$][\w$]*):`)
	reBranch   = regexp.MustCompile(`\bbra(\.uni)?\s+([A-Za-z_$][\w$]*)`)
	specials   = map[string]bool{"%tid": true, "%ntid": true, "%ctaid": true, "%nctaid": true, "%laneid": true, "%warpid": true}
	// PTX's predefined identifiers, which registers must not be named.
	predefined = map[string]bool{
		"%clock": true, "%clock64": true, "%ctaid": true, "%envreg": true, "%gridid": true, "%laneid": true,
		"%lanemask_eq": true, "%lanemask_le": true, "%lanemask_lt": true, "%lanemask_ge": true, "%lanemask_gt": true,
		"%nctaid": true, "%nsmid": true, "%ntid": true, "%nwarpid": true, "%pm0": true, "%pm1": true, "%pm2": true,
		"%pm3": true, "%smid": true, "%tid": true, "%warpid": true, "%WARP_SZ": true, "%globaltimer": true,
		"%total_smem_size": true, "%dynamic_smem_size": true, "%nctarank": true, "%ctarank": true,
	}
)

// TestStatic checks each portable file without a PTX assembler: the
// header, balanced braces, declared registers, existing branch targets,
// and instructions from the sm_52 set.
func TestStatic(t *testing.T) {
	for _, e := range allModules() {
		m := e.m
		src := ptx.StripComments(m.Source)
		var lines []string
		for _, l := range strings.Split(src, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		header := []string{".version 7.0", ".target " + e.target, ".address_size 64"}
		if len(lines) < 3 || !slices.Equal(lines[:3], header) {
			t.Errorf("%s: header %q, want %q", m.File, lines[:min(3, len(lines))], header)
		}
		if n := strings.Count(src, "{") - strings.Count(src, "}"); n != 0 {
			t.Errorf("%s: braces unbalanced by %d", m.File, n)
		}
		if n := strings.Count(src, "(") - strings.Count(src, ")"); n != 0 {
			t.Errorf("%s: parentheses unbalanced by %d", m.File, n)
		}
		ops := portableOps
		if e.target != "sm_52" {
			ops = maps.Clone(portableOps)
			ops["cp"] = true    // cp.async, sm_80
			ops["fence"] = true // fence.acq_rel, sm_70
		}
		checkBodies(t, m.File, lines, ops)
	}
}

// checkBodies checks the registers, labels and instructions of each entry.
func checkBodies(t *testing.T, file string, lines []string, ops map[string]bool) {
	var (
		entry   string
		depth   int
		regs    map[string]bool
		labels  map[string]bool
		targets map[string]int
		uses    []string
	)
	flush := func() {
		for l := range targets {
			if !labels[l] {
				t.Errorf("%s: %s branches to undefined label %s", file, entry, l)
			}
		}
		for _, u := range uses {
			if !regs[u] {
				t.Errorf("%s: %s uses undeclared register %s", file, entry, u)
			}
		}
	}
	for _, l := range lines {
		if strings.Contains(l, ".entry") {
			entry = strings.TrimSpace(strings.SplitN(strings.SplitN(l, ".entry", 2)[1], "(", 2)[0])
			regs, labels, targets, uses = map[string]bool{}, map[string]bool{}, map[string]int{}, nil
		}
		if strings.HasPrefix(l, "{") {
			if depth++; depth == 1 {
				continue
			}
		}
		if depth == 0 {
			continue
		}
		if strings.HasPrefix(l, "}") {
			if depth--; depth == 0 {
				flush()
			}
			continue
		}
		if mm := reRegDecl.FindStringSubmatch(strings.TrimSuffix(l, ";")); mm != nil {
			for _, n := range strings.Split(mm[2], ",") {
				n = strings.TrimSpace(n)
				if base, _, _ := strings.Cut(n, "<"); predefined[base] {
					t.Errorf("%s: %s declares register %s, a predefined identifier", file, entry, base)
				}
				if base, cnt, ok := strings.Cut(n, "<"); ok {
					c, _ := strconv.Atoi(strings.TrimSuffix(cnt, ">"))
					for i := range c {
						regs[base+strconv.Itoa(i)] = true
					}
				} else {
					regs[n] = true
				}
			}
			continue
		}
		if mm := reLabelDef.FindStringSubmatch(l); mm != nil {
			if labels[mm[1]] {
				t.Errorf("%s: %s defines label %s twice", file, entry, mm[1])
			}
			labels[mm[1]] = true
			continue
		}
		if mm := reBranch.FindStringSubmatch(l); mm != nil {
			targets[mm[2]]++
		}
		for _, u := range reRegUse.FindAllString(l, -1) {
			if base, _, _ := strings.Cut(u, "."); specials[base] {
				continue
			}
			uses = append(uses, strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(u, ".x"), ".y"), ".z"))
		}
		ins := strings.TrimSpace(l)
		if strings.HasPrefix(ins, "@") {
			_, ins, _ = strings.Cut(ins, " ")
		}
		op, _, _ := strings.Cut(ins, ".")
		op, _, _ = strings.Cut(op, " ")
		op = strings.TrimSuffix(op, ";")
		if !ops[op] {
			t.Errorf("%s: %s: instruction %q outside the portable set", file, entry, l)
		}
	}
}

// TestFor checks which form of a module a GPU loads.
func TestFor(t *testing.T) {
	for major, want := range map[int]*ptx.Module{5: ptx.SgemmModule, 7: ptx.SgemmModule, 8: ptx.SgemmSM80Module, 9: ptx.SgemmSM80Module, 12: ptx.SgemmSM80Module} {
		if got := ptx.SgemmModule.For(major); got != want {
			t.Errorf("SgemmModule.For(%d) = %s, want %s", major, got.File, want.File)
		}
	}
	if got := ptx.Sgemm64Module.For(9); got != ptx.Sgemm64SM80Module {
		t.Errorf("Sgemm64Module.For(9) = %s", got.File)
	}
	if got := ptx.LossModule.For(9); got != ptx.LossModule {
		t.Errorf("LossModule.For(9) = %s", got.File)
	}
}
