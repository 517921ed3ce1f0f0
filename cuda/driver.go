package cuda

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// Driver is the loaded CUDA driver library (libcuda.so.1), initialised
// with cuInit. It is safe for concurrent use.
type Driver struct {
	lib     string
	handle  uintptr
	version int
	fn      funcs
}

// funcs holds the addresses of the driver functions this package calls.
type funcs struct {
	cuInit, cuDriverGetVersion, cuGetErrorName, cuGetErrorString                   uintptr
	cuDeviceGetCount, cuDeviceGet, cuDeviceGetName, cuDeviceGetAttribute           uintptr
	cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease          uintptr
	cuCtxSetCurrent, cuCtxSynchronize, cuMemGetInfo, cuMemAlloc, cuMemFree         uintptr
	cuMemAllocHost, cuMemFreeHost, cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoD        uintptr
	cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync                        uintptr
	cuMemsetD32Async, cuMemsetD8Async                                              uintptr
	cuModuleLoadDataEx, cuModuleUnload, cuModuleGetFunction                        uintptr
	cuFuncGetAttribute, cuFuncSetAttribute, cuLaunchKernel                         uintptr
	cuStreamCreate, cuStreamDestroy, cuStreamSynchronize, cuStreamQuery            uintptr
	cuEventCreate, cuEventDestroy, cuEventRecord, cuEventSynchronize, cuEventQuery uintptr
	cuEventElapsedTime                                                             uintptr
	cuStreamBeginCapture, cuStreamEndCapture, cuGraphInstantiate, cuGraphLaunch    uintptr
	cuGraphExecDestroy, cuGraphDestroy                                             uintptr
}

// symbol is a driver function to resolve: the first of names that the
// library exports. Required symbols exist in every driver since CUDA 11.0.
type symbol struct {
	addr     *uintptr
	names    []string
	optional bool
}

// symbols lists the exact, versioned ABI names (the _v2 names where cuda.h
// maps the plain name to them; never the 32-bit-pointer originals).
func (f *funcs) symbols() []symbol {
	req := func(p *uintptr, names ...string) symbol { return symbol{p, names, false} }
	opt := func(p *uintptr, names ...string) symbol { return symbol{p, names, true} }
	return []symbol{
		req(&f.cuInit, "cuInit"),
		req(&f.cuDriverGetVersion, "cuDriverGetVersion"),
		opt(&f.cuGetErrorName, "cuGetErrorName"),
		opt(&f.cuGetErrorString, "cuGetErrorString"),
		req(&f.cuDeviceGetCount, "cuDeviceGetCount"),
		req(&f.cuDeviceGet, "cuDeviceGet"),
		req(&f.cuDeviceGetName, "cuDeviceGetName"),
		req(&f.cuDeviceGetAttribute, "cuDeviceGetAttribute"),
		req(&f.cuDeviceTotalMem, "cuDeviceTotalMem_v2"),
		req(&f.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
		req(&f.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"),
		req(&f.cuCtxSetCurrent, "cuCtxSetCurrent"),
		req(&f.cuCtxSynchronize, "cuCtxSynchronize"),
		req(&f.cuMemGetInfo, "cuMemGetInfo_v2"),
		req(&f.cuMemAlloc, "cuMemAlloc_v2"),
		req(&f.cuMemFree, "cuMemFree_v2"),
		req(&f.cuMemAllocHost, "cuMemAllocHost_v2"),
		req(&f.cuMemFreeHost, "cuMemFreeHost"),
		req(&f.cuMemcpyHtoD, "cuMemcpyHtoD_v2"),
		req(&f.cuMemcpyDtoH, "cuMemcpyDtoH_v2"),
		req(&f.cuMemcpyDtoD, "cuMemcpyDtoD_v2"),
		req(&f.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
		req(&f.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
		req(&f.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"),
		req(&f.cuMemsetD32Async, "cuMemsetD32Async"),
		req(&f.cuMemsetD8Async, "cuMemsetD8Async"),
		req(&f.cuModuleLoadDataEx, "cuModuleLoadDataEx"),
		req(&f.cuModuleUnload, "cuModuleUnload"),
		req(&f.cuModuleGetFunction, "cuModuleGetFunction"),
		req(&f.cuFuncGetAttribute, "cuFuncGetAttribute"),
		req(&f.cuFuncSetAttribute, "cuFuncSetAttribute"),
		req(&f.cuLaunchKernel, "cuLaunchKernel"),
		req(&f.cuStreamCreate, "cuStreamCreate"),
		req(&f.cuStreamDestroy, "cuStreamDestroy_v2"),
		req(&f.cuStreamSynchronize, "cuStreamSynchronize"),
		req(&f.cuStreamQuery, "cuStreamQuery"),
		req(&f.cuEventCreate, "cuEventCreate"),
		req(&f.cuEventDestroy, "cuEventDestroy_v2"),
		req(&f.cuEventRecord, "cuEventRecord"),
		req(&f.cuEventSynchronize, "cuEventSynchronize"),
		req(&f.cuEventQuery, "cuEventQuery"),
		// cuda.h of CUDA 12.8+ maps cuEventElapsedTime to a _v2; drivers
		// keep the original for older programs, and some export only it.
		req(&f.cuEventElapsedTime, "cuEventElapsedTime", "cuEventElapsedTime_v2"),
		// Graphs: cuGraphInstantiateWithFlags needs a CUDA 11.4 driver.
		opt(&f.cuStreamBeginCapture, "cuStreamBeginCapture_v2"),
		opt(&f.cuStreamEndCapture, "cuStreamEndCapture"),
		opt(&f.cuGraphInstantiate, "cuGraphInstantiateWithFlags"),
		opt(&f.cuGraphLaunch, "cuGraphLaunch"),
		opt(&f.cuGraphExecDestroy, "cuGraphExecDestroy"),
		opt(&f.cuGraphDestroy, "cuGraphDestroy"),
	}
}

var (
	defaultOnce   sync.Once
	defaultDriver *Driver
	defaultErr    error
)

// Load loads and initialises the CUDA driver, libcuda.so.1, the first time
// it is called; later calls return the same driver or error. The error
// matches ErrNoDriver when the library cannot be loaded or is the
// toolkit's stub, ErrNoDevice when the driver sees no device and
// ErrDriverMismatch when the library and the kernel module disagree or
// the library is a forward-compatibility driver that does not support
// the GPU. An error of cuInit carries the CUDA version of the library in
// Error.Version when the library tells it.
func Load() (*Driver, error) {
	defaultOnce.Do(func() { defaultDriver, defaultErr = LoadLibrary(defaultLibrary) })
	return defaultDriver, defaultErr
}

// LoadLibrary loads and initialises the CUDA driver from the named shared
// library (a file name searched as dlopen does, or a path). Unlike Load it
// does not cache its result. It exists for tests and unusual
// installations; most programs call Load.
//
// Once cuInit has been called the library stays loaded, even when cuInit
// fails: libcuda.so.1 is not marked to stay resident (DF_1_NODELETE), and
// unloading it after cuInit may crash the process at thread or process
// exit. Only a library that is missing a symbol is unloaded again.
func LoadLibrary(name string) (*Driver, error) {
	h, err := dlopen(name)
	if err != nil {
		return nil, noDriverError("dlopen "+name, fmt.Sprintf("cannot load the CUDA driver library %s: %v", name, err), err)
	}
	d := &Driver{lib: name, handle: h}
	for _, s := range d.fn.symbols() {
		for _, n := range s.names {
			if p, err := dlsym(h, n); err == nil && p != 0 {
				*s.addr = p
				break
			}
		}
		if *s.addr == 0 && !s.optional {
			dlclose(h)
			return nil, noDriverError("dlsym "+s.names[0], fmt.Sprintf("%s does not export %s: it is not the NVIDIA driver library, or a driver older than CUDA 11.0", name, strings.Join(s.names, " or ")), nil)
		}
	}
	// cuDriverGetVersion needs no cuInit: asked first, it puts the CUDA
	// version of the library on an error of cuInit. If it fails here (the
	// toolkit's stub may fail every call), the error of cuInit says why.
	var v int32
	if d.call(d.fn.cuDriverGetVersion, uintptr(unsafe.Pointer(&v))) == Success {
		d.version = int(v)
	}
	if err := d.check("cuInit", d.call(d.fn.cuInit, 0)); err != nil {
		return nil, err
	}
	if d.version == 0 {
		if err := d.check("cuDriverGetVersion", d.call(d.fn.cuDriverGetVersion, uintptr(unsafe.Pointer(&v)))); err != nil {
			return nil, err
		}
		d.version = int(v)
	}
	return d, nil
}

// Version returns the CUDA version the driver supports, such as 12040 for
// 12.4 (see VersionString).
func (d *Driver) Version() int { return d.version }

// Library returns the name the driver library was loaded from.
func (d *Driver) Library() string { return d.lib }

// call calls a driver function and returns its CUresult.
//
//go:uintptrescapes
func (d *Driver) call(fn uintptr, args ...uintptr) Result {
	return result(syscall(fn, args...))
}

// result converts the return register of a C function returning a
// CUresult, a C enum of 32 bits, to a Result. The ABI leaves the upper 32
// bits of the register undefined, so only the lower 32 bits count.
func result(reg uintptr) Result { return Result(int32(reg)) }

// check turns the result r of op into an error, nil for success.
func (d *Driver) check(op string, r Result) error {
	if r == Success {
		return nil
	}
	e := newError(op, r, d.errorNames)
	e.Version = d.version
	return e
}

// errorNames asks the driver for the name and text of r.
func (d *Driver) errorNames(r Result) (name, text string) {
	if d.fn.cuGetErrorName == 0 || d.fn.cuGetErrorString == 0 {
		return "", ""
	}
	var n, t *byte
	if d.call(d.fn.cuGetErrorName, uintptr(r), uintptr(unsafe.Pointer(&n))) != Success || n == nil {
		return "", ""
	}
	if d.call(d.fn.cuGetErrorString, uintptr(r), uintptr(unsafe.Pointer(&t))) != Success || t == nil {
		return "", ""
	}
	return cString(n), cString(t)
}

// cString copies the NUL-terminated C string at p.
func cString(p *byte) string {
	var b []byte
	for i := 0; i < 1<<16; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}
