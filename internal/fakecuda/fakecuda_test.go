//go:build linux && (amd64 || arm64)

package fakecuda

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	if err := build([]string{"no-such-compiler-here"}, dir, filepath.Join(dir, "libcuda.so.1")); !errors.Is(err, ErrNoCompiler) {
		t.Errorf("without a compiler: %v", err)
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip(err)
	}
	// A compiler command with arguments, which fails.
	err := build([]string{"sh", "-c", "echo 'libcuda.c:1: error: oops' >&2; exit 1", "cc"}, dir, filepath.Join(dir, "libcuda.so.1"))
	if err == nil || errors.Is(err, ErrNoCompiler) || !strings.Contains(err.Error(), "oops") {
		t.Errorf("a failing compiler: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a failed build left %d files behind", len(ents))
	}
}

// TestFind checks that a folder that cannot be used sends the build to the
// next one, and that a failing compiler does not.
func TestFind(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip(err)
	}
	tmp := t.TempDir()
	notDir := filepath.Join(tmp, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(tmp, "good")
	// A compiler that writes an empty output file.
	cc := []string{"sh", "-c", `while [ $# -gt 0 ]; do [ "$1" = -o ] && : >"$2"; shift; done`, "cc"}
	path, err := find(cc, "k", []string{notDir, good})
	if want := filepath.Join(good, "gokernels-fakecuda", "k", "libcuda.so.1"); err != nil || path != want {
		t.Errorf("past a folder that is a file: %q, %v; want %q", path, err, want)
	}
	// Built: found where it is, without the compiler.
	if p, err := find([]string{"no-such-compiler-here"}, "k", []string{good}); err != nil || p != path {
		t.Errorf("built: %q, %v; want %q", p, err, path)
	}
	first, second := filepath.Join(tmp, "first"), filepath.Join(tmp, "second")
	failing := []string{"sh", "-c", "echo 'libcuda.c:1: error: oops' >&2; exit 1", "cc"}
	if _, err := find(failing, "k", []string{first, second}); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("a failing compiler: %v", err)
	}
	if _, err := os.Stat(second); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failing compiler was run again in the next folder: %v", err)
	}
	if _, err := find([]string{"no-such-compiler-here"}, "k", []string{first, second}); !errors.Is(err, ErrNoCompiler) {
		t.Errorf("without a compiler: %v", err)
	}
}

// TestLaunchLayout checks launchDesc against struct fakecu_launch, whose
// size libcuda.c asserts.
func TestLaunchLayout(t *testing.T) {
	var l launchDesc
	if s, o := unsafe.Sizeof(l), unsafe.Offsetof(l.allocSize); s != 88 || o != 80 {
		t.Errorf("launchDesc: size %d, allocSize at %d; want 88 and 80 as in libcuda.c", s, o)
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
