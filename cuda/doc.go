// Package cuda runs the kernels of package ptx on NVIDIA GPUs through the
// CUDA driver API, loaded at run time: it needs the NVIDIA driver
// (libcuda.so.1) and nothing else: no cgo, no CUDA headers, no toolkit,
// no libcudart. It builds with CGO_ENABLED=0 on every platform; on
// platforms other than linux/amd64 and linux/arm64 it reports that no
// driver is available.
//
// A program starts with Open (or Load, Driver.Device and
// Device.NewContext), which gives a Context on the device's primary
// context, then allocates device buffers (Alloc, Upload), creates a Stream
// and queues work on it: Sgemm, the layer, loss and optimizer kernels of a
// dense network (BiasAct, ActGrad, BiasGrad, SoftmaxCE, CCE, MSE, SGD,
// RMSprop, Adam, GatherRows), copies, or kernels of its own PTX modules
// (Context.LoadModule, Stream.Launch). Stream.Capture records a sequence
// of such work as a Graph that replays with one launch.
//
// NewSimContext gives a Context whose kernels run in the PTX simulator of
// package ptxsim, on the CPU: code built on this package can be tested,
// on tiny problems, on machines without a GPU.
//
// # Errors
//
// Argument misuse (wrong shapes, short buffers, buffers of another context)
// panics with a message naming the argument, as package gemm does. Driver
// failures come back as *Error values carrying the driver's code, name and
// text and a hint on what to check; errors.Is tells the common causes
// apart: ErrNoDriver, ErrNoDevice, ErrDriverMismatch, ErrPTXVersion,
// ErrInvalidPTX (with the JIT log) and ErrOutOfMemory (with the requested,
// free and budget bytes).
//
// # Threads
//
// Every call locks the calling goroutine to its OS thread and makes the
// context current there for its duration (see Context), so any goroutine
// may call any method. Streams, buffers and the other objects are not
// locked: do not use one from several goroutines at once without
// synchronisation, as with any Go value.
package cuda
