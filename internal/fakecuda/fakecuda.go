//go:build linux && (amd64 || arm64)

// Package fakecuda builds a stand-in for the CUDA driver library,
// libcuda.so.1, for the tests of package cuda and its users on machines
// without a GPU.
//
// The stand-in is C (testdata/libcuda.c), compiled on first use with the
// system's C compiler ($CC, or cc) and loaded like the real library, so
// that the Go binding's calls go through the same C ABI as on a GPU
// machine. It exports the driver functions that package cuda binds, with
// the prototypes and enum values of NVIDIA's cuda.h, and is strict where
// the driver is: per-thread current contexts, argument checks, the calls
// that stream capture forbids and the JIT's log options. It is stricter in
// one way: a call forgets the current context of its thread after using
// it, so that every call the binding makes without setting the context
// first (as it must, since goroutines move between OS threads) fails.
// Device memory is host memory. Work queued on a stream runs only when
// something waits for it (a synchronisation, the legacy stream's
// synchronous copies for blocking streams, a free, or a query, which says
// CUDA_ERROR_NOT_READY and runs it), so that a result read without
// waiting is stale every time, not now and then as on a GPU. Kernels run
// in the PTX simulator of package ptxsim, through callbacks into Go.
//
// It has two devices: 0 has compute capability 9.0 and 8 multiprocessors,
// 1 has compute capability 5.2 and 2 multiprocessors.
package fakecuda

import (
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/gokernels/gemm/ptx"
	"github.com/gokernels/gemm/ptx/ptxsim"
)

//go:embed testdata/libcuda.c
var source []byte

// lib is the process's fake driver: like the real library, it is loaded
// once per process, and its hooks find the modules it loaded here.
var lib struct {
	once sync.Once
	path string
	err  error

	stats func(out *uint64, n int32) int32

	mu   sync.Mutex
	mods map[string]*module // by PTX text
}

// module is a PTX module the fake driver loaded.
type module struct {
	sim     *ptxsim.Module
	entries map[string][]ptx.Param
}

// ErrNoCompiler is the error of Library (wrapped) when there is no C
// compiler to build the library with: tests skip then, and fail on
// every other error.
var ErrNoCompiler = errors.New("fakecuda: no C compiler to build the fake driver library (set CC or install cc)")

// Library returns the path of the fake driver library, building and
// loading it the first time. Load it with cuda.LoadLibrary, or start a
// process with LD_LIBRARY_PATH set to its folder. The library is cached
// in the user's cache folder (or the temporary one) under a hash of its
// source, the compiler command and its arguments, and the architecture.
func Library() (string, error) {
	lib.once.Do(func() { lib.path, lib.err = load() })
	return lib.path, lib.err
}

// load builds the library, or finds it built, loads it and installs its
// hooks.
func load() (string, error) {
	cc := strings.Fields(os.Getenv("CC"))
	if len(cc) == 0 {
		cc = []string{"cc"}
	}
	// The cached library is the source built by this compiler, with
	// these arguments, for this architecture.
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00%q\x00%q\x00%q\x00", runtime.GOARCH, cc, ccFlags, ccLibs)
	sum.Write(source)
	path, err := find(cc, hex.EncodeToString(sum.Sum(nil)[:8]), cacheDirs())
	if err != nil {
		return "", err
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return "", fmt.Errorf("fakecuda: %v", err)
	}
	var setHooks func(check, params, launch uintptr)
	purego.RegisterLibFunc(&setHooks, h, "fakecu_set_hooks")
	purego.RegisterLibFunc(&lib.stats, h, "fakecu_stats")
	setHooks(purego.NewCallback(check), purego.NewCallback(params), purego.NewCallback(launch))
	return path, nil
}

// find returns the path of the library built by the compiler command cc
// under key, in the first of the folders bases where it is built or can
// be: it goes on to the next folder only on an error of the folder's, not
// on the compiler's.
func find(cc []string, key string, bases []string) (string, error) {
	err := ErrNoCompiler
	for _, base := range bases {
		dir := filepath.Join(base, "gokernels-fakecuda", key)
		path := filepath.Join(dir, "libcuda.so.1")
		if _, err = os.Stat(path); err == nil {
			return path, nil
		}
		if err = build(cc, dir, path); err == nil {
			return path, nil
		}
		if !errors.As(err, new(*folderError)) {
			return "", err
		}
	}
	return "", err
}

// cacheDirs returns the folders to keep the library in, in the order to
// try them: the user's cache folder, then the temporary one.
func cacheDirs() []string {
	dirs := []string{os.TempDir()}
	if d, err := os.UserCacheDir(); err == nil {
		dirs = append([]string{d}, dirs...)
	}
	return dirs
}

// The compiler's arguments after those of the compiler command: ccFlags
// before the output and the source, ccLibs after them. The cache key
// includes them, so that a change rebuilds the library.
var (
	ccFlags = []string{"-std=c11", "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror"}
	ccLibs  = []string{"-lpthread"}
)

// folderError is an error of build that is its folder's (it cannot be
// created or written), not the compiler's: find tries the next folder.
type folderError struct{ err error }

func (e *folderError) Error() string { return "fakecuda: " + e.err.Error() }
func (e *folderError) Unwrap() error { return e.err }

// build compiles the library with the compiler command cc to path, in
// folder dir, through temporary files, so that test processes building it
// at the same time never read or load a partial file.
func build(cc []string, dir, path string) error {
	if _, err := exec.LookPath(cc[0]); err != nil {
		return fmt.Errorf("%w: %v", ErrNoCompiler, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &folderError{err}
	}
	src, err := os.CreateTemp(dir, "libcuda-*.c")
	if err != nil {
		return &folderError{err}
	}
	defer os.Remove(src.Name())
	_, err = src.Write(source)
	if e := src.Close(); err == nil {
		err = e
	}
	if err != nil {
		return &folderError{err}
	}
	so := strings.TrimSuffix(src.Name(), ".c") + ".so"
	defer os.Remove(so)
	args := slices.Concat(cc[1:], ccFlags, []string{"-o", so, src.Name()}, ccLibs)
	out, err := exec.Command(cc[0], args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fakecuda: %s: %v\n%s", strings.Join(cc, " "), err, out)
	}
	if err := os.Rename(so, path); err != nil {
		return &folderError{err}
	}
	return nil
}

// ReadStats returns the fake driver's counters. Library must have
// succeeded.
func ReadStats() Stats {
	// Stats is the counters, in fakecu_stats's order, as uint64 fields.
	var st Stats
	lib.stats((*uint64)(unsafe.Pointer(&st)), int32(unsafe.Sizeof(st)/8))
	return st
}

// cString returns the NUL-terminated string at p.
func cString(p *byte) string {
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// parse returns the module of PTX text src, parsing it the first time.
func parse(src string) (*module, error) {
	lib.mu.Lock()
	defer lib.mu.Unlock()
	if m, ok := lib.mods[src]; ok {
		return m, nil
	}
	sim, err := ptxsim.Parse(src)
	if err != nil {
		return nil, err
	}
	ks, err := ptx.ParseEntries(src)
	if err != nil {
		return nil, err
	}
	m := &module{sim: sim, entries: map[string][]ptx.Param{}}
	for _, k := range ks {
		m.entries[k.Name] = k.Params
	}
	if lib.mods == nil {
		lib.mods = map[string]*module{}
	}
	lib.mods[src] = m
	return m, nil
}

// check is the JIT's hook: it reports whether the simulator accepts the
// PTX at image, writing the reason into log (logSize bytes) if not.
func check(image, log *byte, logSize uint64) int32 {
	_, err := parse(cString(image))
	if err == nil {
		return 0
	}
	if logSize > 0 {
		out := unsafe.Slice(log, logSize)
		out[copy(out[:logSize-1], "ptxsim: "+err.Error())] = 0
	}
	return 1
}

// params is cuModuleGetFunction's hook: it writes the sizes of entry
// name's parameters and returns their number, or −1 without that entry.
func params(image, name *byte, sizes *uint32, n int32) int32 {
	m, err := parse(cString(image))
	if err != nil {
		return -1
	}
	ps, ok := m.entries[cString(name)]
	if !ok || len(ps) > int(n) {
		return -1
	}
	out := unsafe.Slice(sizes, n)
	for i, p := range ps {
		out[i] = uint32(p.Type.Size())
	}
	return int32(len(ps))
}

// launchDesc mirrors struct fakecu_launch of libcuda.c.
type launchDesc struct {
	image, name *byte
	grid, block [3]uint32
	shared      uint32
	nparams     uint32
	sizes       *uint32
	params      *byte
	nallocs     uint64
	allocAddr   *unsafe.Pointer
	allocSize   *uint64
}

const errorIllegalAddress = 700 // CUDA_ERROR_ILLEGAL_ADDRESS

// launch is cuLaunchKernel's hook: it runs the kernel in the simulator,
// over the context's allocations in place, and returns a CUresult.
func launch(l *launchDesc) int32 {
	m, err := parse(cString(l.image))
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakecuda: launch of unparsable PTX: %v\n", err)
		return errorIllegalAddress
	}
	mem := ptxsim.NewMemory()
	addrs, sizes := unsafe.Slice(l.allocAddr, l.nallocs), unsafe.Slice(l.allocSize, l.nallocs)
	for i, p := range addrs {
		mem.Map(uint64(uintptr(p)), unsafe.Slice((*byte)(p), sizes[i]))
	}
	// Parameter i sits at the next offset aligned to its size.
	psizes := unsafe.Slice(l.sizes, l.nparams)
	args := make([]uint64, len(psizes))
	off := 0
	for i, s := range psizes {
		off = (off + int(s) - 1) &^ (int(s) - 1)
		var b [8]byte
		copy(b[:], unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(l.params), off)), s))
		args[i] = binary.LittleEndian.Uint64(b[:])
		off += int(s)
	}
	grid := ptxsim.Dim3{X: int(l.grid[0]), Y: int(l.grid[1]), Z: int(l.grid[2])}
	block := ptxsim.Dim3{X: int(l.block[0]), Y: int(l.block[1]), Z: int(l.block[2])}
	if err := m.sim.Launch(mem, cString(l.name), grid, block, args...); err != nil {
		// The driver reports a faulting kernel as an illegal address; the
		// simulator's reason goes to stderr, where a test's log shows it.
		fmt.Fprintf(os.Stderr, "fakecuda: %v\n", err)
		return errorIllegalAddress
	}
	return 0
}
