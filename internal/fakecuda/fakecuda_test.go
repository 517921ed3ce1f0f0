//go:build linux && (amd64 || arm64)

package fakecuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CC", "no-such-compiler-here")
	if err := build(dir, filepath.Join(dir, "libcuda.so.1")); err == nil || !strings.Contains(err.Error(), "no C compiler") {
		t.Errorf("without a compiler: %v", err)
	}
	if _, err := exec.LookPath("false"); err != nil {
		t.Skip(err)
	}
	t.Setenv("CC", "false")
	if err := build(dir, filepath.Join(dir, "libcuda.so.1")); err == nil {
		t.Error("a failing compiler built the library")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a failed build left %d files behind", len(ents))
	}
}

func TestCheckHook(t *testing.T) {
	log := make([]byte, 32)
	src := []byte(".version 7.0\n.target sm_52\n.address_size 64\n.visible .entry k()\n{\n\tbogus.op %r1;\n\tret;\n}\n\x00")
	if check(&src[0], &log[0], uint64(len(log))) == 0 {
		t.Fatal("bad PTX accepted")
	}
	msg := cString(&log[0])
	if !strings.HasPrefix(msg, "ptxsim: ") || len(msg) != len(log)-1 {
		t.Errorf("log %q: want the simulator's message, cut to the buffer", msg)
	}
	ok := []byte(".version 7.0\n.target sm_52\n.address_size 64\n.visible .entry k(.param .u64 p, .param .f32 x)\n{\n\tret;\n}\n\x00")
	if check(&ok[0], &log[0], uint64(len(log))) != 0 {
		t.Fatal("good PTX rejected")
	}
	var sizes [4]uint32
	name := []byte("k\x00")
	if n := params(&ok[0], &name[0], &sizes[0], 4); n != 2 || sizes[0] != 8 || sizes[1] != 4 {
		t.Errorf("params = %d, %v", n, sizes[:2])
	}
	name = []byte("missing\x00")
	if n := params(&ok[0], &name[0], &sizes[0], 4); n != -1 {
		t.Errorf("params of a missing entry = %d", n)
	}
}
