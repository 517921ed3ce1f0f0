package cuda

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/gokernels/gemm/ptx"
)

// Dim3 is a grid size in blocks or a block size in threads. Zero
// components count as 1.
type Dim3 struct{ X, Y, Z uint32 }

func (d Dim3) norm() Dim3 {
	return Dim3{max(d.X, 1), max(d.Y, 1), max(d.Z, 1)}
}

// Arg is one kernel argument: a value and its PTX type.
type Arg struct {
	Type ptx.Type
	bits uint64
}

// U32 returns a .u32 argument.
func U32(v uint32) Arg { return Arg{ptx.U32, uint64(v)} }

// I32 returns a .s32 argument.
func I32(v int32) Arg { return Arg{ptx.S32, uint64(uint32(v))} }

// F32 returns a .f32 argument.
func F32(v float32) Arg { return Arg{ptx.F32, uint64(math.Float32bits(v))} }

// U64 returns a .u64 argument.
func U64(v uint64) Arg { return Arg{ptx.U64, v} }

// Ptr returns a device address as a .u64 argument.
func Ptr(p DevicePtr) Arg { return Arg{ptx.U64, uint64(p)} }

// MaxArgs is the most arguments a launch may pass.
const MaxArgs = 32

// launchArgs is the parameter array of one launch: the values and the
// array of pointers to them that cuLaunchKernel reads. It is pinned for
// the call and reused through the context's pool.
type launchArgs struct {
	vals [MaxArgs]uint64
	ptrs [MaxArgs]unsafe.Pointer
	pin  runtime.Pinner
}

// checkArgs panics unless args fit the function's parameter list.
func checkArgs(name string, params []ptx.Param, args []Arg) {
	if len(args) != len(params) {
		panic(fmt.Sprintf("cuda: launch of %s with %d arguments, it takes %d", name, len(args), len(params)))
	}
	for i, a := range args {
		if a.Type != params[i].Type {
			panic(fmt.Sprintf("cuda: launch of %s: argument %d (%s) is %s, the kernel takes %s", name, i, params[i].Name, a.Type, params[i].Type))
		}
	}
}

// Launch queues kernel f on stream s with grid×block threads, sharedBytes
// of dynamic shared memory and the given arguments. When f's parameter
// list is known (see Function.Params) the arguments must match it in
// number and type, or Launch panics.
func (s *Stream) Launch(f *Function, grid, block Dim3, sharedBytes int, args ...Arg) error {
	if len(args) > MaxArgs {
		panic(fmt.Sprintf("cuda: launch of %s with %d arguments, more than %d", f.name, len(args), MaxArgs))
	}
	if f.checked {
		checkArgs(f.name, f.params, args)
	}
	s.check("Launch", f.mod.ctx)
	grid, block = grid.norm(), block.norm()
	c := s.ctx
	la := c.args.Get().(*launchArgs)
	for i, a := range args {
		la.vals[i] = a.bits
		la.ptrs[i] = unsafe.Pointer(&la.vals[i])
	}
	la.pin.Pin(la)
	err := c.do("cuLaunchKernel", c.drv.fn.cuLaunchKernel, f.h,
		uintptr(grid.X), uintptr(grid.Y), uintptr(grid.Z),
		uintptr(block.X), uintptr(block.Y), uintptr(block.Z),
		uintptr(sharedBytes), s.h, uintptr(unsafe.Pointer(&la.ptrs[0])), 0)
	la.pin.Unpin()
	c.args.Put(la)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Text += fmt.Sprintf(" (kernel %s, grid %v, block %v, %d bytes of dynamic shared memory)", f.name, grid, block, sharedBytes)
		}
	}
	return err
}
