package cuda

import (
	"runtime"
	"time"
	"unsafe"
)

const (
	streamDefault          = 0 // CU_STREAM_DEFAULT: synchronises with the legacy default stream
	captureModeThreadLocal = 1 // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
	eventDefault           = 0 // CU_EVENT_DEFAULT: with timing
)

// Stream is a queue of device work (CUstream). Work on one stream runs in
// order; work on different streams may overlap.
type Stream struct {
	ctx       *Context
	h         uintptr
	work      *Buffer[float32] // Sgemm's workspace, or nil
	capturing bool             // in Capture
}

// NewStream creates a stream. It synchronises with the legacy default
// stream, which the synchronous copies (Buffer.CopyFromHost, CopyToHost)
// use: work queued on it after such a copy sees the copied data, and such
// a copy waits for the work queued before it.
func (c *Context) NewStream() (*Stream, error) {
	s := &Stream{ctx: c}
	if c.sim != nil {
		s.h = c.sim.newStream()
		return s, nil
	}
	if err := c.do("cuStreamCreate", c.drv.fn.cuStreamCreate, uintptr(unsafe.Pointer(&s.h)), streamDefault); err != nil {
		return nil, err
	}
	return s, nil
}

// Context returns the stream's context.
func (s *Stream) Context() *Context { return s.ctx }

// SetWorkspace gives Sgemm on s the buffer w for the partial products of
// a product split along k, or takes the workspace away (w == nil). Sgemm
// splits only what gains from it, only as far as w holds the partials,
// and never allocates; SgemmWorkspace tells how long w should be for a
// product. Work queued on s uses w in turn, so one workspace serves all
// the products of a stream, but not two streams at once.
//
// The first words of w count the blocks of a split product as they
// finish: SetWorkspace queues on s the clearing of them, and each split
// product leaves them cleared. Do not write to w while it is set, nor
// share it with another stream. A graph captured on s (Stream.Capture)
// keeps the workspace set at capture: keep w alive, and its contents to
// the graph, while the graph is in use.
//
// SetWorkspace panics if w belongs to another context than s, or if s is
// capturing a graph (the clearing would be recorded, not run); it returns
// the driver's error if it cannot queue the clearing.
func (s *Stream) SetWorkspace(w *Buffer[float32]) error {
	if s == nil {
		panic("cuda: SetWorkspace on a nil stream")
	}
	if s.capturing {
		panic("cuda: SetWorkspace while the stream captures a graph; set the workspace before Stream.Capture")
	}
	if w == nil {
		s.work = nil
		return nil
	}
	w.live("SetWorkspace")
	s.check("SetWorkspace", w.ctx)
	if err := w.Slice(0, min(w.n, sgemmCounters(s.ctx.dev.SMs, s.ctx.dev.cc()))).Fill(s, 0); err != nil {
		return err
	}
	s.work = w
	return nil
}

// Workspace returns the workspace set by SetWorkspace, or nil.
func (s *Stream) Workspace() *Buffer[float32] { return s.work }

// check panics unless s can run work on memory of context c.
func (s *Stream) check(op string, c *Context) {
	if s == nil {
		panic("cuda: " + op + " on a nil stream")
	}
	if s.h == 0 {
		panic("cuda: " + op + " on a destroyed stream")
	}
	if c != s.ctx {
		panic("cuda: " + op + ": buffer or function of another context than the stream's")
	}
}

// Sync waits until all work queued on s has finished.
func (s *Stream) Sync() error {
	if s.ctx.sim != nil {
		return s.ctx.sim.sync(s)
	}
	return s.ctx.do("cuStreamSynchronize", s.ctx.drv.fn.cuStreamSynchronize, s.h)
}

// Done reports whether all work queued on s has finished, without waiting.
func (s *Stream) Done() (bool, error) {
	if s.ctx.sim != nil {
		return true, nil
	}
	err := s.ctx.do("cuStreamQuery", s.ctx.drv.fn.cuStreamQuery, s.h)
	if e, ok := err.(*Error); ok && e.Code == errorNotReady {
		return false, nil
	}
	return err == nil, err
}

// Destroy destroys the stream once its work is done.
func (s *Stream) Destroy() error {
	if s.h == 0 {
		return nil
	}
	h := s.h
	s.h = 0
	if s.ctx.sim != nil {
		return nil
	}
	return s.ctx.do("cuStreamDestroy_v2", s.ctx.drv.fn.cuStreamDestroy, h)
}

const errorNotReady Result = 600 // CUDA_ERROR_NOT_READY

// Event marks a point in a stream, for waiting and timing (CUevent).
type Event struct {
	ctx *Context
	h   uintptr
}

// NewEvent creates an event that records time stamps.
func (c *Context) NewEvent() (*Event, error) {
	e := &Event{ctx: c}
	if err := c.do("cuEventCreate", c.drv.fn.cuEventCreate, uintptr(unsafe.Pointer(&e.h)), eventDefault); err != nil {
		return nil, err
	}
	return e, nil
}

// Record queues the event on stream s.
func (e *Event) Record(s *Stream) error {
	s.check("Event.Record", e.ctx)
	return e.ctx.do("cuEventRecord", e.ctx.drv.fn.cuEventRecord, e.h, s.h)
}

// Sync waits until the work before the event's last Record has finished.
func (e *Event) Sync() error {
	return e.ctx.do("cuEventSynchronize", e.ctx.drv.fn.cuEventSynchronize, e.h)
}

// Done reports whether the work before the event's last Record has
// finished, without waiting.
func (e *Event) Done() (bool, error) {
	err := e.ctx.do("cuEventQuery", e.ctx.drv.fn.cuEventQuery, e.h)
	if x, ok := err.(*Error); ok && x.Code == errorNotReady {
		return false, nil
	}
	return err == nil, err
}

// Destroy destroys the event.
func (e *Event) Destroy() error {
	if e.h == 0 {
		return nil
	}
	h := e.h
	e.h = 0
	return e.ctx.do("cuEventDestroy_v2", e.ctx.drv.fn.cuEventDestroy, h)
}

// Elapsed returns the device time between two recorded events (resolution
// about 0.5 µs); both must have completed.
func Elapsed(start, end *Event) (time.Duration, error) {
	var ms float32
	err := start.ctx.do("cuEventElapsedTime", start.ctx.drv.fn.cuEventElapsedTime, uintptr(unsafe.Pointer(&ms)), start.h, end.h)
	return time.Duration(float64(ms) * float64(time.Millisecond)), err
}

// Graph is an executable CUDA graph: a recorded sequence of stream work
// that replays with one launch.
type Graph struct {
	ctx         *Context
	graph, exec uintptr
	sim         []func() error // the recorded work, on the simulator
}

// Capture records the work that record queues on s (kernel launches,
// asynchronous copies and fills) into a graph instead of running it, and
// returns the graph, instantiated. Kernel arguments are recorded by value:
// replays use the same buffers and scalars, so values that change from
// one replay to the next must live in device memory.
//
// record must queue its work from the calling goroutine, on s, and must
// not allocate or free device memory or synchronise; the goroutine stays
// locked to its OS thread meanwhile and the capture is thread-local. If
// record fails, its error is returned; if it panics, the capture is ended
// and its graph destroyed before the panic goes on, so s is usable again.
//
// While the capture runs, no goroutine may use the synchronous operations
// of s's context: Buffer.CopyFromHost, CopyToHost and Read, Upload, Alloc,
// Buffer.Free, Context.Synchronize and Stream.Sync. Streams of this
// package synchronise with the legacy default stream, which the copies and
// synchronisations use, and while such a stream captures the legacy
// stream is unusable: the call fails, with
// CUDA_ERROR_STREAM_CAPTURE_IMPLICIT (906) or
// CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (900), and invalidates the
// capture, so that Capture fails with CUDA_ERROR_STREAM_CAPTURE_INVALIDATED
// (901) unless record returns the error of the call. Alloc and Free fail
// the same way in record; from another goroutine the thread-local capture
// lets the driver accept them (the simulator of NewSimContext refuses
// them from any goroutine), but they may wait for the device, so do not
// rely on it. Other libraries that share the primary context (see
// Context) and use the legacy stream fail the same way.
func (s *Stream) Capture(record func() error) (*Graph, error) {
	c := s.ctx
	// Restored, not cleared: a Capture of s inside record fails and must
	// leave the outer capture marked.
	prev := s.capturing
	s.capturing = true
	defer func() { s.capturing = prev }()
	if c.sim != nil {
		s.check("Stream.Capture", c)
		return c.sim.capture(s, record)
	}
	if err := c.drv.graphSupport(); err != nil {
		return nil, err
	}
	f := &c.drv.fn
	s.check("Stream.Capture", c)
	// Load the embedded kernels now: module loading is not allowed while
	// capturing.
	if _, err := c.Kernels(); err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := c.do("cuStreamBeginCapture_v2", f.cuStreamBeginCapture, s.h, captureModeThreadLocal); err != nil {
		return nil, err
	}
	// If record panics (or calls runtime.Goexit), end the capture on this
	// thread, as the thread-local mode requires, and destroy its graph
	// while the panic goes on: a blocking stream left capturing would make
	// the legacy stream, and with it the whole context, unusable.
	g := &Graph{ctx: c}
	end := func() error {
		return c.do("cuStreamEndCapture", f.cuStreamEndCapture, s.h, uintptr(unsafe.Pointer(&g.graph)))
	}
	returned := false
	defer func() {
		if !returned {
			end()
			g.Destroy()
		}
	}()
	recErr := record()
	returned = true
	endErr := end()
	if recErr != nil || endErr != nil {
		g.Destroy()
		if recErr != nil {
			return nil, recErr
		}
		return nil, endErr
	}
	if err := c.do("cuGraphInstantiateWithFlags", f.cuGraphInstantiate, uintptr(unsafe.Pointer(&g.exec)), g.graph, 0); err != nil {
		g.Destroy()
		return nil, err
	}
	return g, nil
}

// graphSupport returns an error unless the driver exports every graph
// function that Capture, Graph.Launch and Graph.Destroy call.
func (d *Driver) graphSupport() error {
	f := &d.fn
	for _, p := range []uintptr{f.cuStreamBeginCapture, f.cuStreamEndCapture, f.cuGraphInstantiate, f.cuGraphLaunch, f.cuGraphExecDestroy, f.cuGraphDestroy} {
		if p == 0 {
			return &Error{Op: "cuGraphInstantiateWithFlags", Code: ErrorNotSupported, Name: ErrorNotSupported.String(),
				Text: "this driver lacks the graph functions (they need a CUDA 11.4 driver or newer); update the NVIDIA driver", Free: -1, Version: d.version}
		}
	}
	return nil
}

// Launch queues a replay of the graph on stream s.
func (g *Graph) Launch(s *Stream) error {
	s.check("Graph.Launch", g.ctx)
	if g.exec == 0 {
		panic("cuda: Graph.Launch of a destroyed graph")
	}
	if g.ctx.sim != nil {
		return g.ctx.sim.replay(s, g)
	}
	return g.ctx.do("cuGraphLaunch", g.ctx.drv.fn.cuGraphLaunch, g.exec, s.h)
}

// Destroy frees the graph.
func (g *Graph) Destroy() error {
	if g.ctx.sim != nil {
		g.exec, g.sim = 0, nil
		return nil
	}
	var err error
	if g.exec != 0 {
		err = g.ctx.do("cuGraphExecDestroy", g.ctx.drv.fn.cuGraphExecDestroy, g.exec)
		g.exec = 0
	}
	if g.graph != 0 {
		if e := g.ctx.do("cuGraphDestroy", g.ctx.drv.fn.cuGraphDestroy, g.graph); err == nil {
			err = e
		}
		g.graph = 0
	}
	return err
}
