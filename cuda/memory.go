package cuda

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// DevicePtr is a device address (CUdeviceptr).
type DevicePtr uint64

// Elem is the set of element types of buffers: 4-byte numbers, and bytes
// (a data set's inputs, such as MNIST's pixels, before they are converted).
type Elem interface {
	~float32 | ~int32 | ~uint32 | ~uint8
}

// sizeOf returns the size of an element of type T in bytes.
func sizeOf[T Elem]() int {
	var z T
	return int(unsafe.Sizeof(z))
}

// Buffer is a typed array in device memory, or a view of part of one.
// Methods panic when given host slices or buffers of the wrong length
// (naming the lengths) or when the buffer has been freed; driver failures
// come back as errors.
type Buffer[T Elem] struct {
	ctx *Context
	ptr DevicePtr
	n   int
	mem *allocation // shared by the views of one allocation
}

type allocation struct {
	ctx   *Context
	ptr   DevicePtr
	bytes int64
	freed atomic.Bool
}

// Alloc allocates a buffer of n elements in c's device memory, within c's
// budget. Its contents are undefined. A zero-length buffer allocates
// nothing.
func Alloc[T Elem](c *Context, n int) (*Buffer[T], error) {
	if n < 0 {
		panic(fmt.Sprintf("cuda: Alloc: n = %d < 0", n))
	}
	a := &allocation{ctx: c, bytes: int64(n) * int64(sizeOf[T]())}
	if n > 0 {
		p, err := c.alloc("cuMemAlloc_v2", a.bytes)
		if err != nil {
			return nil, err
		}
		a.ptr = p
	}
	return &Buffer[T]{ctx: c, ptr: a.ptr, n: n, mem: a}, nil
}

// Upload allocates a buffer holding a copy of src.
func Upload[T Elem](c *Context, src []T) (*Buffer[T], error) {
	b, err := Alloc[T](c, len(src))
	if err != nil {
		return nil, err
	}
	if err := b.CopyFromHost(src); err != nil {
		b.Free()
		return nil, err
	}
	return b, nil
}

// Len returns the number of elements.
func (b *Buffer[T]) Len() int { return b.n }

// Ptr returns the device address of the first element.
func (b *Buffer[T]) Ptr() DevicePtr { return b.ptr }

// Context returns the context the buffer belongs to.
func (b *Buffer[T]) Context() *Context { return b.ctx }

// Arg returns the buffer's address as a kernel argument; a nil buffer
// gives a null pointer.
func (b *Buffer[T]) Arg() Arg {
	if b == nil {
		return Ptr(0)
	}
	return Ptr(b.ptr)
}

// Slice returns a view of elements [i, j) sharing the memory of b. It
// panics unless 0 <= i <= j <= b.Len().
func (b *Buffer[T]) Slice(i, j int) *Buffer[T] {
	if i < 0 || j < i || j > b.n {
		panic(fmt.Sprintf("cuda: Buffer.Slice(%d, %d) of a buffer of length %d", i, j, b.n))
	}
	return &Buffer[T]{ctx: b.ctx, ptr: b.ptr + DevicePtr(i*sizeOf[T]()), n: j - i, mem: b.mem}
}

// Free frees the memory of the buffer and of all its views. Freeing twice
// does nothing. It panics when called on a view made by Slice.
func (b *Buffer[T]) Free() error {
	if b.ptr != b.mem.ptr || int64(b.bytes()) != b.mem.bytes {
		panic("cuda: Buffer.Free of a view; free the buffer Alloc returned")
	}
	if b.mem.freed.Swap(true) || b.mem.bytes == 0 {
		return nil
	}
	return b.ctx.free(b.mem.ptr, b.mem.bytes)
}

// live panics if the memory of b has been freed.
func (b *Buffer[T]) live(op string) {
	if b.mem.freed.Load() {
		panic("cuda: " + op + " on a freed buffer")
	}
}

// bytes returns the size of b's elements in bytes.
func (b *Buffer[T]) bytes() int { return b.n * sizeOf[T]() }

func (b *Buffer[T]) checkLen(op, what string, n int) {
	if n != b.n {
		panic(fmt.Sprintf("cuda: %s: len(%s) = %d, want %d, the buffer's length", op, what, n, b.n))
	}
	b.live(op)
}

func hostPtr[T Elem](s []T) uintptr {
	if len(s) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&s[0]))
}

// CopyFromHost copies src, which must have b.Len() elements, to the
// device on the legacy default stream, and returns when src may be reused.
// Work queued afterwards on the context's streams sees the data.
func (b *Buffer[T]) CopyFromHost(src []T) error {
	b.checkLen("Buffer.CopyFromHost", "src", len(src))
	if b.n == 0 {
		return nil
	}
	if b.ctx.sim != nil {
		return b.ctx.sim.copyHost("cuMemcpyHtoD_v2", b.ptr, hostBytes(src), true)
	}
	return b.ctx.do("cuMemcpyHtoD_v2", b.ctx.drv.fn.cuMemcpyHtoD, uintptr(b.ptr), uintptr(unsafe.Pointer(&src[0])), uintptr(b.bytes()))
}

// CopyToHost copies the buffer to dst, which must have b.Len() elements,
// once the work queued before it on the context's streams (which
// synchronise with the legacy default stream) has finished.
func (b *Buffer[T]) CopyToHost(dst []T) error {
	b.checkLen("Buffer.CopyToHost", "dst", len(dst))
	if b.n == 0 {
		return nil
	}
	if b.ctx.sim != nil {
		return b.ctx.sim.copyHost("cuMemcpyDtoH_v2", b.ptr, hostBytes(dst), false)
	}
	return b.ctx.do("cuMemcpyDtoH_v2", b.ctx.drv.fn.cuMemcpyDtoH, uintptr(unsafe.Pointer(&dst[0])), uintptr(b.ptr), uintptr(b.bytes()))
}

// Read returns a copy of the buffer's contents in a new slice.
func (b *Buffer[T]) Read() ([]T, error) {
	s := make([]T, b.n)
	return s, b.CopyToHost(s)
}

// CopyFrom queues a copy of src, which must have b.Len() elements and
// belong to the same context, into b on stream s.
func (b *Buffer[T]) CopyFrom(s *Stream, src *Buffer[T]) error {
	if src.n != b.n {
		panic(fmt.Sprintf("cuda: Buffer.CopyFrom: src.Len() = %d, want %d, the buffer's length", src.n, b.n))
	}
	src.live("Buffer.CopyFrom")
	b.live("Buffer.CopyFrom")
	s.check("Buffer.CopyFrom", b.ctx)
	if b.n == 0 {
		return nil
	}
	if s.ctx.sim != nil {
		return s.ctx.sim.copyDevice(s, b.ptr, src.ptr, b.bytes())
	}
	return s.ctx.do("cuMemcpyDtoDAsync_v2", s.ctx.drv.fn.cuMemcpyDtoDAsync, uintptr(b.ptr), uintptr(src.ptr), uintptr(b.bytes()), s.h)
}

// Upload queues a copy of the page-locked host buffer src, which must have
// b.Len() elements, to b on stream s. src must not change until the copy
// is done.
func (b *Buffer[T]) Upload(s *Stream, src *HostBuffer[T]) error {
	src.checkLen("Buffer.Upload", b.n)
	b.live("Buffer.Upload")
	s.check("Buffer.Upload", b.ctx)
	if b.n == 0 {
		return nil
	}
	return s.ctx.do("cuMemcpyHtoDAsync_v2", s.ctx.drv.fn.cuMemcpyHtoDAsync, uintptr(b.ptr), uintptr(src.p), uintptr(b.bytes()), s.h)
}

// Download queues a copy of b to the page-locked host buffer dst, which
// must have b.Len() elements, on stream s. dst holds the data once the
// stream has reached this point (Stream.Sync, Event.Sync).
func (b *Buffer[T]) Download(s *Stream, dst *HostBuffer[T]) error {
	dst.checkLen("Buffer.Download", b.n)
	b.live("Buffer.Download")
	s.check("Buffer.Download", b.ctx)
	if b.n == 0 {
		return nil
	}
	return s.ctx.do("cuMemcpyDtoHAsync_v2", s.ctx.drv.fn.cuMemcpyDtoHAsync, uintptr(dst.p), uintptr(b.ptr), uintptr(b.bytes()), s.h)
}

// Fill queues setting every element of b to v on stream s.
func (b *Buffer[T]) Fill(s *Stream, v T) error {
	b.live("Buffer.Fill")
	s.check("Buffer.Fill", b.ctx)
	if b.n == 0 {
		return nil
	}
	// The element's bytes, and the memset of their width.
	elem := unsafe.Slice((*byte)(unsafe.Pointer(&v)), sizeOf[T]())
	op, fn := "cuMemsetD32Async", s.ctx.drv.fn.cuMemsetD32Async
	if len(elem) == 1 {
		op, fn = "cuMemsetD8Async", s.ctx.drv.fn.cuMemsetD8Async
	}
	if s.ctx.sim != nil {
		return s.ctx.sim.fill(s, op, b.ptr, elem, b.n)
	}
	var bits uintptr // the element's value, as the memset takes it
	for i, x := range elem {
		bits |= uintptr(x) << (8 * i)
	}
	return s.ctx.do(op, fn, uintptr(b.ptr), bits, uintptr(b.n), s.h)
}

// HostBuffer is page-locked host memory, outside the Go heap, that the
// device can copy asynchronously (Buffer.Upload, Buffer.Download).
type HostBuffer[T Elem] struct {
	ctx   *Context
	p     unsafe.Pointer
	data  []T
	freed bool
}

// AllocHost allocates n elements of page-locked host memory.
func AllocHost[T Elem](c *Context, n int) (*HostBuffer[T], error) {
	if n < 0 {
		panic(fmt.Sprintf("cuda: AllocHost: n = %d < 0", n))
	}
	h := &HostBuffer[T]{ctx: c}
	if n == 0 {
		return h, nil
	}
	if err := c.do("cuMemAllocHost_v2", c.drv.fn.cuMemAllocHost, uintptr(unsafe.Pointer(&h.p)), uintptr(n*sizeOf[T]())); err != nil {
		return nil, err
	}
	h.data = unsafe.Slice((*T)(h.p), n)
	return h, nil
}

// Data returns the buffer's memory as a slice; it is valid until Free.
func (h *HostBuffer[T]) Data() []T { return h.data }

// Len returns the number of elements.
func (h *HostBuffer[T]) Len() int { return len(h.data) }

func (h *HostBuffer[T]) checkLen(op string, n int) {
	if h.freed {
		panic("cuda: " + op + " with a freed host buffer")
	}
	if len(h.data) != n {
		panic(fmt.Sprintf("cuda: %s: host buffer of length %d, want %d, the device buffer's length", op, len(h.data), n))
	}
}

// Free frees the host memory; the slice from Data must not be used
// afterwards. Freeing twice does nothing.
func (h *HostBuffer[T]) Free() error {
	if h.freed {
		return nil
	}
	h.freed = true
	p := h.p
	h.p, h.data = nil, nil
	if p == nil {
		return nil
	}
	return h.ctx.do("cuMemFreeHost", h.ctx.drv.fn.cuMemFreeHost, uintptr(p))
}
