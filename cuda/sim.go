package cuda

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/gokernels/gemm/ptx"
	"github.com/gokernels/gemm/ptx/ptxsim"
)

// NewSimContext returns a Context on a simulated device: the launchers of
// this package run their kernels in the PTX simulator of package ptxsim,
// on the CPU, with no driver and no GPU. It exists to test code built on
// this package (launch sequences, buffer layouts, leading dimensions,
// graph capture) on machines without a GPU, on tiny problems: the
// simulator interprets every thread and is millions of times slower than
// a GPU.
//
// Buffers (Alloc, Upload, Slice, the copies between host and device and
// on the device, Fill), streams, the launchers (Sgemm, BiasAct, ActGrad,
// BiasGrad, GatherRows, SoftmaxCE, CCE, MSE, SGD, RMSprop, Adam), budgets
// and Stream.Capture with Graph.Launch work. Queued work runs at once, in
// the order it is queued, so Sync has nothing to wait for. As on a GPU, and
// more strictly (from any goroutine; see Stream.Capture), allocating,
// freeing, a synchronous copy, Sync or Synchronize while a stream is
// capturing fails (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED) and invalidates
// every capture in progress, whose Capture then fails with
// CUDA_ERROR_STREAM_CAPTURE_INVALIDATED unless its record function
// returns the error of the call.
// Everything else that needs the driver (LoadModule and launches of other
// kernels, events, page-locked host memory, MemInfo) returns an error with
// code ErrorNotSupported. A kernel that accesses memory outside every
// buffer fails with CUDA_ERROR_ILLEGAL_ADDRESS, at its launch.
//
// The Device of a simulated Context has no Driver (Device.Driver returns
// nil) and reports 8 multiprocessors, so that Sgemm on a stream with a
// workspace splits small products along k as it would on a GPU. Device
// memory is never reused: freed buffers stay allocated in the simulator
// until the Context is no longer referenced.
func NewSimContext() *Context {
	dev := &Device{
		Name: "PTX simulator", Major: 5, Minor: 2, SMs: 8,
		MaxThreadsPerBlock: 1024, MaxSharedPerBlock: 48 << 10, MaxSharedPerBlockOptin: 48 << 10, WarpSize: 32,
	}
	// drv has no functions: calls that reach the driver fail in do.
	c := &Context{dev: dev, drv: &Driver{}, sim: &simulator{
		mem:       ptxsim.NewMemory(),
		mods:      map[*ptx.Module]*ptxsim.Module{},
		capturing: map[*Stream]*simCapture{},
	}}
	c.args.New = func() any { return new(launchArgs) }
	return c
}

// simulator is the state of a simulated device. Its lock serialises all
// simulated work.
type simulator struct {
	mu   sync.Mutex
	mem  *ptxsim.Memory
	mods map[*ptx.Module]*ptxsim.Module
	// capturing holds the captures in progress, by stream.
	capturing map[*Stream]*simCapture
	streams   uintptr // handles given out
}

// simCapture is a capture in progress on the simulator.
type simCapture struct {
	work []func() error // recorded so far
	// invalidatedBy names the call that invalidated the capture, or is
	// empty.
	invalidatedBy string
}

const (
	errorIllegalAddress           Result = 700
	errorStreamCaptureUnsupported Result = 900
	errorStreamCaptureInvalidated Result = 901
)

// notSimulated is the error of driver calls the simulator does not serve.
func notSimulated(op string) error {
	e := newError(op, ErrorNotSupported, nil)
	e.Text += " (not available on the simulated device of NewSimContext)"
	return e
}

// whileCapturing returns an error if a stream is capturing: op, which
// synchronises with the legacy stream or changes the memory map, is not
// allowed then. As the driver does, the attempt invalidates every capture
// in progress.
func (sm *simulator) whileCapturing(op string) error {
	sm.mu.Lock()
	n := len(sm.capturing)
	for _, c := range sm.capturing {
		if c.invalidatedBy == "" {
			c.invalidatedBy = op
		}
	}
	sm.mu.Unlock()
	if n == 0 {
		return nil
	}
	e := newError(op, errorStreamCaptureUnsupported, nil)
	e.Text += " (a stream of the context is capturing)"
	return e
}

func (sm *simulator) alloc(n int64) (DevicePtr, error) {
	if err := sm.whileCapturing("cuMemAlloc_v2"); err != nil {
		return 0, err
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return DevicePtr(sm.mem.Alloc(int(n))), nil
}

// bytes returns the simulated memory of n bytes at p.
func (sm *simulator) bytes(op string, p DevicePtr, n int) ([]byte, error) {
	b, err := sm.mem.Bytes(uint64(p), n)
	if err != nil {
		e := newError(op, errorIllegalAddress, nil)
		e.Text += ": " + err.Error()
		return nil, e
	}
	return b, nil
}

// hostBytes returns the memory of a host slice as bytes.
func hostBytes[T Elem](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*sizeOf[T]())
}

// copyHost copies between host memory h and device memory at p: to the
// device when toDevice.
func (sm *simulator) copyHost(op string, p DevicePtr, h []byte, toDevice bool) error {
	if err := sm.whileCapturing(op); err != nil {
		return err
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	d, err := sm.bytes(op, p, len(h))
	if err != nil {
		return err
	}
	if toDevice {
		copy(d, h)
	} else {
		copy(h, d)
	}
	return nil
}

// queue runs f now, or records it if s is capturing.
func (sm *simulator) queue(s *Stream, f func() error) error {
	sm.mu.Lock()
	if c, ok := sm.capturing[s]; ok {
		c.work = append(c.work, f)
		sm.mu.Unlock()
		return nil
	}
	defer sm.mu.Unlock()
	return f()
}

// copyDevice queues copying n bytes from src to dst on s.
func (sm *simulator) copyDevice(s *Stream, dst, src DevicePtr, n int) error {
	return sm.queue(s, func() error {
		d, err := sm.bytes("cuMemcpyDtoDAsync_v2", dst, n)
		if err != nil {
			return err
		}
		from, err := sm.bytes("cuMemcpyDtoDAsync_v2", src, n)
		if err != nil {
			return err
		}
		copy(d, from)
		return nil
	})
}

// fill queues setting the n elements at p to the bytes of elem (1 or 4 of
// them, as op, cuMemsetD8Async or cuMemsetD32Async, does) on s.
func (sm *simulator) fill(s *Stream, op string, p DevicePtr, elem []byte, n int) error {
	return sm.queue(s, func() error {
		d, err := sm.bytes(op, p, n*len(elem))
		if err != nil {
			return err
		}
		for i := 0; i < len(d); i += len(elem) {
			copy(d[i:], elem)
		}
		return nil
	})
}

// launch queues l on s. The arguments are checked against the kernel's
// parameters as Stream.Launch checks them.
func (sm *simulator) launch(s *Stream, l *launch) error {
	checkArgs(l.kernel.Name, l.kernel.Params, l.args)
	bits := make([]uint64, len(l.args))
	for i, a := range l.args {
		bits[i] = a.bits
	}
	g, b := l.grid.norm(), l.block.norm()
	return sm.queue(s, func() error {
		m, ok := sm.mods[l.kernel.Module]
		if !ok {
			var err error
			if m, err = ptxsim.Parse(l.kernel.Module.Source); err != nil {
				return fmt.Errorf("cuda: simulator: %s: %v", l.kernel.Module.File, err)
			}
			sm.mods[l.kernel.Module] = m
		}
		err := m.Launch(sm.mem, l.kernel.Name, ptxsim.Dim3{X: int(g.X), Y: int(g.Y), Z: int(g.Z)},
			ptxsim.Dim3{X: int(b.X), Y: int(b.Y), Z: int(b.Z)}, bits...)
		if err != nil {
			e := newError("cuLaunchKernel", errorIllegalAddress, nil)
			e.Text += fmt.Sprintf(" (kernel %s, grid %v, block %v, simulated): %v", l.kernel.Name, g, b, err)
			return e
		}
		return nil
	})
}

func (sm *simulator) newStream() uintptr {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.streams++
	return sm.streams
}

// sync is Stream.Sync (s != nil) or Context.Synchronize (s == nil).
func (sm *simulator) sync(s *Stream) error {
	op := "cuCtxSynchronize"
	if s != nil {
		op = "cuStreamSynchronize"
	}
	return sm.whileCapturing(op)
}

// capture is Stream.Capture on the simulator. The capture ends when
// record returns, fails or panics.
func (sm *simulator) capture(s *Stream, record func() error) (*Graph, error) {
	c := &simCapture{}
	sm.mu.Lock()
	if _, ok := sm.capturing[s]; ok {
		sm.mu.Unlock()
		return nil, newError("cuStreamBeginCapture_v2", errorStreamCaptureUnsupported, nil)
	}
	sm.capturing[s] = c
	sm.mu.Unlock()
	// Deferred, so that a panic of record (or runtime.Goexit) also ends
	// the capture and leaves s and the context usable.
	defer func() {
		sm.mu.Lock()
		delete(sm.capturing, s)
		sm.mu.Unlock()
	}()
	if err := record(); err != nil {
		return nil, err
	}
	sm.mu.Lock()
	by := c.invalidatedBy
	sm.mu.Unlock()
	if by != "" {
		e := newError("cuStreamEndCapture", errorStreamCaptureInvalidated, nil)
		e.Text += " (" + by + " while capturing)"
		return nil, e
	}
	return &Graph{ctx: s.ctx, exec: 1, sim: c.work}, nil
}

// replay queues the work of a simulated graph on s.
func (sm *simulator) replay(s *Stream, g *Graph) error {
	for _, f := range g.sim {
		if err := sm.queue(s, f); err != nil {
			return err
		}
	}
	return nil
}
