package cuda

import (
	"bytes"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/gokernels/gemm/ptx"
)

// JIT options of cuModuleLoadDataEx (CUjit_option).
const (
	jitInfoLogBuffer          = 3
	jitInfoLogBufferSizeBytes = 4
	jitErrorLogBuffer         = 5
	jitErrorLogBufferSize     = 6
	jitLogVerbose             = 12
)

const jitLogSize = 16 << 10

// Module is a PTX module loaded into a context and compiled by the
// driver's JIT compiler.
type Module struct {
	ctx  *Context
	h    uintptr // CUmodule
	name string
	sigs map[string][]ptx.Param

	// InfoLog is the JIT compiler's information log: registers, shared
	// and local memory of each entry.
	InfoLog string
}

// LoadModule compiles and loads the PTX text src; name identifies it in
// errors. A rejected module gives an error matching ErrInvalidPTX (with the
// JIT log), or ErrPTXVersion when the driver is older than the PTX ISA
// version. The entries' parameter lists are read from src, so that
// launches of its functions are checked.
func (c *Context) LoadModule(name, src string) (*Module, error) {
	image := make([]byte, len(src)+1) // NUL-terminated
	copy(image, src)
	infoLog := make([]byte, jitLogSize)
	errLog := make([]byte, jitLogSize)
	opts := []int32{jitInfoLogBuffer, jitInfoLogBufferSizeBytes, jitErrorLogBuffer, jitErrorLogBufferSize, jitLogVerbose}
	vals := []uintptr{
		uintptr(unsafe.Pointer(&infoLog[0])), jitLogSize,
		uintptr(unsafe.Pointer(&errLog[0])), jitLogSize,
		1,
	}
	// The driver reads the arrays and writes the logs and their sizes: keep
	// them in place.
	var pin runtime.Pinner
	pin.Pin(&image[0])
	pin.Pin(&infoLog[0])
	pin.Pin(&errLog[0])
	pin.Pin(&opts[0])
	pin.Pin(&vals[0])
	defer pin.Unpin()

	m := &Module{ctx: c, name: name}
	err := c.do("cuModuleLoadDataEx", c.drv.fn.cuModuleLoadDataEx,
		uintptr(unsafe.Pointer(&m.h)), uintptr(unsafe.Pointer(&image[0])),
		uintptr(len(opts)), uintptr(unsafe.Pointer(&opts[0])), uintptr(unsafe.Pointer(&vals[0])))
	m.InfoLog = logString(infoLog, vals[1])
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Module = name
			e.Log = logString(errLog, vals[3])
		}
		return nil, err
	}
	if ks, err := ptx.ParseEntries(src); err == nil {
		m.sigs = make(map[string][]ptx.Param, len(ks))
		for _, k := range ks {
			m.sigs[k.Name] = k.Params
		}
	}
	return m, nil
}

// logString returns the first n bytes of a JIT log, up to its NUL.
func logString(b []byte, n uintptr) string {
	b = b[:min(int(n), len(b))]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(bytes.TrimRight(b, "\n"))
}

// Name returns the name the module was loaded with.
func (m *Module) Name() string { return m.name }

// Function returns the entry point called name.
func (m *Module) Function(name string) (*Function, error) {
	f := &Function{mod: m, name: name, params: m.sigs[name], checked: m.sigs != nil}
	cname := append([]byte(name), 0)
	if err := m.ctx.do("cuModuleGetFunction", m.ctx.drv.fn.cuModuleGetFunction, uintptr(unsafe.Pointer(&f.h)), m.h, uintptr(unsafe.Pointer(&cname[0]))); err != nil {
		if e, ok := err.(*Error); ok {
			e.Module = m.name
			e.Text += fmt.Sprintf(" (function %q)", name)
		}
		return nil, err
	}
	return f, nil
}

// Unload unloads the module; its functions must not be launched
// afterwards.
func (m *Module) Unload() error {
	if m.h == 0 {
		return nil
	}
	h := m.h
	m.h = 0
	return m.ctx.do("cuModuleUnload", m.ctx.drv.fn.cuModuleUnload, h)
}

// Function is a kernel entry point of a loaded module.
type Function struct {
	mod     *Module
	h       uintptr // CUfunction
	name    string
	params  []ptx.Param
	checked bool // params is known: launches are checked against it
}

// Name returns the entry's name.
func (f *Function) Name() string { return f.name }

// Params returns the entry's parameter list, nil if unknown.
func (f *Function) Params() []ptx.Param { return f.params }

// Function attributes (CUfunction_attribute).
const (
	funcMaxThreadsPerBlock = 0
	funcSharedSizeBytes    = 1
	funcConstSizeBytes     = 2
	funcLocalSizeBytes     = 3
	funcNumRegs            = 4
	funcPTXVersion         = 5
	funcBinaryVersion      = 6
	funcMaxDynamicShared   = 8
)

// FuncAttributes are the properties of a compiled function.
type FuncAttributes struct {
	MaxThreadsPerBlock int // the most threads a block of this function may have
	SharedBytes        int // static shared memory per block
	ConstBytes         int
	LocalBytes         int // local memory (spills) per thread
	Registers          int // registers per thread
	PTXVersion         int // such as 70 for PTX 7.0
	BinaryVersion      int // the compute capability it was compiled for, such as 90
}

// Attributes returns the function's attributes.
func (f *Function) Attributes() (FuncAttributes, error) {
	var a FuncAttributes
	for _, x := range []struct {
		attr int
		dst  *int
	}{
		{funcMaxThreadsPerBlock, &a.MaxThreadsPerBlock},
		{funcSharedSizeBytes, &a.SharedBytes},
		{funcConstSizeBytes, &a.ConstBytes},
		{funcLocalSizeBytes, &a.LocalBytes},
		{funcNumRegs, &a.Registers},
		{funcPTXVersion, &a.PTXVersion},
		{funcBinaryVersion, &a.BinaryVersion},
	} {
		var v int32
		if err := f.mod.ctx.do("cuFuncGetAttribute", f.mod.ctx.drv.fn.cuFuncGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(x.attr), f.h); err != nil {
			return a, err
		}
		*x.dst = int(v)
	}
	return a, nil
}

// SetMaxDynamicShared allows launches of f with up to bytes of dynamic
// shared memory (above the 48 KiB default, on GPUs that allow it).
func (f *Function) SetMaxDynamicShared(bytes int) error {
	return f.mod.ctx.do("cuFuncSetAttribute", f.mod.ctx.drv.fn.cuFuncSetAttribute, f.h, funcMaxDynamicShared, uintptr(bytes))
}
