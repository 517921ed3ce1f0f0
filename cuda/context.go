package cuda

import (
	"runtime"
	"sync"
	"unsafe"
)

// Context is a handle on the primary context of a device, the context the
// CUDA runtime and other libraries of the process share. Buffers,
// streams, events, modules and graphs belong to the Context that made
// them.
//
// # Threads
//
// The driver keeps the current context per OS thread, and a goroutine may
// move between OS threads at any time. Every method of this package that
// calls the driver therefore locks the calling goroutine to its OS thread
// (runtime.LockOSThread), makes the context current there
// (cuCtxSetCurrent), makes its calls and unlocks the thread. Methods may be
// called from any goroutine; this costs one extra driver call (about 0.2
// µs) per method. Other libraries that use the same OS thread find the
// primary context current afterwards.
//
// # Memory
//
// A Context allocates only what is asked for. SetBudget limits the bytes
// its buffers may hold; allocations beyond the budget fail with an error
// matching ErrOutOfMemory that gives the requested, free and budget bytes.
type Context struct {
	dev *Device
	drv *Driver
	h   uintptr // CUcontext

	budget budget
	args   sync.Pool // *launchArgs

	mu      sync.Mutex
	closed  bool
	kernels *Kernels

	sim *simulator // not nil for NewSimContext
}

// NewContext retains the device's primary context and returns a handle on
// it; Close releases it. Each handle has its own budget.
func (dev *Device) NewContext() (*Context, error) {
	d := dev.drv
	if d == nil {
		panic("cuda: Device.NewContext on the simulated device of NewSimContext")
	}
	var h uintptr
	if err := d.check("cuDevicePrimaryCtxRetain", d.call(d.fn.cuDevicePrimaryCtxRetain, uintptr(unsafe.Pointer(&h)), uintptr(dev.handle))); err != nil {
		return nil, err
	}
	c := &Context{dev: dev, drv: d, h: h}
	c.args.New = func() any { return new(launchArgs) }
	return c, nil
}

// Device returns the context's device.
func (c *Context) Device() *Device { return c.dev }

// Close unloads the embedded kernels (see Kernels) and releases the
// primary context. Free the context's buffers, streams, events, modules
// and graphs first: the driver destroys the primary context, and
// everything in it, only when its last user releases it.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.sim != nil {
		return nil
	}
	var err error
	if c.kernels != nil {
		err = c.kernels.unload()
		c.kernels = nil
	}
	d := c.drv
	if e := d.check("cuDevicePrimaryCtxRelease_v2", d.call(d.fn.cuDevicePrimaryCtxRelease, uintptr(c.dev.handle))); err == nil {
		err = e
	}
	return err
}

// enter locks the goroutine to its OS thread and makes c current there.
// On success the caller must call runtime.UnlockOSThread when done; on
// error enter has already unlocked.
func (c *Context) enter() error {
	runtime.LockOSThread()
	if r := c.drv.call(c.drv.fn.cuCtxSetCurrent, c.h); r != Success {
		runtime.UnlockOSThread()
		return c.drv.check("cuCtxSetCurrent", r)
	}
	return nil
}

// do calls driver function fn of name op with c current.
//
//go:uintptrescapes
func (c *Context) do(op string, fn uintptr, args ...uintptr) error {
	if c.sim != nil {
		return notSimulated(op)
	}
	if err := c.enter(); err != nil {
		return err
	}
	r := c.drv.call(fn, args...)
	runtime.UnlockOSThread()
	return c.drv.check(op, r)
}

// Synchronize waits until the device has finished all work of the
// context.
func (c *Context) Synchronize() error {
	if c.sim != nil {
		return c.sim.sync(nil)
	}
	return c.do("cuCtxSynchronize", c.drv.fn.cuCtxSynchronize)
}

// MemInfo returns the free and total device memory in bytes, as the driver
// reports them for the whole device.
func (c *Context) MemInfo() (free, total int64, err error) {
	var f, t uint64
	err = c.do("cuMemGetInfo_v2", c.drv.fn.cuMemGetInfo, uintptr(unsafe.Pointer(&f)), uintptr(unsafe.Pointer(&t)))
	return int64(f), int64(t), err
}

// SetBudget limits the device memory that the buffers of this Context may
// hold together to bytes; 0 removes the limit. Buffers allocated already
// count. It panics if bytes is negative.
func (c *Context) SetBudget(bytes int64) { c.budget.setLimit(bytes) }

// Budget returns the budget (0 for none), the bytes the Context's buffers
// hold and the most they have held at once.
func (c *Context) Budget() (limit, used, peak int64) { return c.budget.state() }

// alloc allocates n bytes of device memory within the budget.
func (c *Context) alloc(op string, n int64) (DevicePtr, error) {
	ok, limit, used := c.budget.reserve(n)
	if !ok {
		free := int64(-1)
		if f, _, err := c.MemInfo(); err == nil {
			free = f
		}
		return 0, budgetError(op, n, free, limit, used)
	}
	if c.sim != nil {
		p, err := c.sim.alloc(n)
		if err != nil {
			c.budget.release(n)
		}
		return p, err
	}
	var p DevicePtr
	if err := c.do("cuMemAlloc_v2", c.drv.fn.cuMemAlloc, uintptr(unsafe.Pointer(&p)), uintptr(n)); err != nil {
		c.budget.release(n)
		if e, ok := err.(*Error); ok && e.Code == ErrorOutOfMemory {
			e.Requested, e.Budget, e.InUse = n, limit, used
			if f, _, err := c.MemInfo(); err == nil {
				e.Free = f
			}
		}
		return 0, err
	}
	return p, nil
}

// free frees device memory of n bytes allocated by alloc.
func (c *Context) free(p DevicePtr, n int64) error {
	if c.sim != nil {
		err := c.sim.whileCapturing("cuMemFree_v2")
		if err == nil {
			c.budget.release(n)
		}
		return err
	}
	err := c.do("cuMemFree_v2", c.drv.fn.cuMemFree, uintptr(p))
	if err == nil {
		c.budget.release(n)
	}
	return err
}
