// Package ptx holds the hand-written PTX kernels of the GPU backend,
// embedded in the binary, and a table of their entry points and parameter
// lists that the launchers in package cuda use.
//
// The portable modules (the .ptx files of this directory) start with
//
//	.version 7.0
//	.target sm_52
//	.address_size 64
//
// and use only sm_52-era instructions, so every driver since CUDA 11.0
// compiles them, just in time, for any GPU from Maxwell (second generation)
// on. Nothing here needs the CUDA toolkit.
//
// Faster forms for newer GPUs live in subfolders named for the oldest
// compute capability they need (sm80/: Ampere and later, with cp.async).
// Each is a Variant of a portable module, with the same entries, and
// Module.For picks the one to load for a GPU; the portable module stays
// the fallback.
//
// The table is the contract between the two sides: a test parses every
// embedded file with [ParseEntries] and checks each entry's name and
// parameters against it, and package cuda checks the arguments of every
// launch against it, so that a mismatch fails on machines without a GPU.
package ptx

import (
	_ "embed"
	"strconv"
)

// Type is the PTX type of a kernel parameter.
type Type uint8

// The parameter types the kernels use. Pointers are U64.
const (
	U32 Type = iota + 1
	S32
	F32
	U64
	S64
)

// String returns the PTX spelling of t, such as ".u32".
func (t Type) String() string {
	switch t {
	case U32:
		return ".u32"
	case S32:
		return ".s32"
	case F32:
		return ".f32"
	case U64:
		return ".u64"
	case S64:
		return ".s64"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Size returns the size of a parameter of type t in bytes.
func (t Type) Size() int {
	switch t {
	case U32, S32, F32:
		return 4
	case U64, S64:
		return 8
	}
	return 0
}

// Param is one parameter of a kernel.
type Param struct {
	Name string
	Type Type
}

// Kernel describes one entry point (.entry) of a module.
type Kernel struct {
	Name   string  // the entry's name
	Module *Module // the module that defines it
	Params []Param // in order
}

// Module is one embedded PTX file.
type Module struct {
	File    string    // the file name, such as "sgemm.ptx" or "sm80/sgemm.ptx"
	Source  string    // the PTX text
	Kernels []*Kernel // the entries the launchers use, in file order; nil for a variant
	// Variants are modules with the same entries, written for newer GPUs,
	// oldest first (see For).
	Variants []*Variant
}

// Variant is a module for GPUs of compute capability Major.0 and later,
// with the entries of a portable module, for the launches it runs faster
// there (package cuda loads both and picks per launch).
type Variant struct {
	Major  int
	Module *Module
}

// For returns the newest form of m that a GPU whose compute capability has
// major version major supports: a variant, or m itself.
func (m *Module) For(major int) *Module {
	best := m
	for _, v := range m.Variants {
		if major >= v.Major {
			best = v.Module
		}
	}
	return best
}

// Activation codes of bias_act, act_grad, cce and mse.
const (
	ActIdentity = 0
	ActSigmoid  = 1
	ActReLU     = 2
	ActTanh     = 3
	ActSoftmax  = 4 // only cce and mse; softmax_rows and softmax_grad otherwise
)

// Launch geometry the kernels are written for.
const (
	SgemmTile    = 128 // rows and columns of C per block of sgemm
	Sgemm64Tile  = 64  // rows and columns of C per block of sgemm64
	SgemmThreads = 256 // threads per block of sgemm and sgemm64
	RowsPerBlock = 8   // rows per 256-thread block of the row kernels (one warp a row)
)

var (
	//go:embed sgemm.ptx
	sgemmSource string
	//go:embed sgemm64.ptx
	sgemm64Source string
	//go:embed sm80/sgemm.ptx
	sgemmSM80Source string
	//go:embed sm80/sgemm64.ptx
	sgemm64SM80Source string
	//go:embed elementwise.ptx
	elementwiseSource string
	//go:embed loss.ptx
	lossSource string
	//go:embed optim.ptx
	optimSource string
)

// The modules.
var (
	SgemmModule = &Module{File: "sgemm.ptx", Source: sgemmSource,
		Variants: []*Variant{{Major: 8, Module: SgemmSM80Module}}}
	Sgemm64Module = &Module{File: "sgemm64.ptx", Source: sgemm64Source,
		Variants: []*Variant{{Major: 8, Module: Sgemm64SM80Module}}}
	ElementwiseModule = &Module{File: "elementwise.ptx", Source: elementwiseSource}
	LossModule        = &Module{File: "loss.ptx", Source: lossSource}
	OptimModule       = &Module{File: "optim.ptx", Source: optimSource}

	// The sm_80 forms of the SGEMM modules (ptx/sm80/, .target sm_80):
	// their loads are cp.async copies into three shared-memory stages.
	SgemmSM80Module   = &Module{File: "sm80/sgemm.ptx", Source: sgemmSM80Source}
	Sgemm64SM80Module = &Module{File: "sm80/sgemm64.ptx", Source: sgemm64SM80Source}
)

func p(name string, t Type) Param { return Param{name, t} }

func kernel(m *Module, name string, params ...Param) *Kernel {
	k := &Kernel{Name: name, Module: m, Params: params}
	m.Kernels = append(m.Kernels, k)
	return k
}

// The kernels. Matrices are row-major; ld parameters are leading dimensions
// in elements; pointers (U64) are device addresses.
var (
	// Sgemm computes v = alpha*op(A)*op(B) + beta*C and stores C =
	// act(v), or v*act'(Y) when y is not null (Y the activation's outputs,
	// leading dimension ldy), with the arithmetic of BiasAct and ActGrad;
	// trans has bit 0 set when A is transposed and bit 1 when B is. Grid
	// (ceil(n/128), ceil(m/128), splits), block 256: block z works on the
	// slice of k from z*kslice (kslice >= k without a split). With more
	// than one slice, blocks store alpha times their partial products to
	// W_z, the m×n matrix at w + z*mn4 floats (mn4: m*n rounded up to a
	// multiple of 4; w 16-byte aligned), and count themselves in at
	// their tile's u32 in counts (ctaid.y*nctaid.x + ctaid.x, 0 at the
	// launch and again after it); the last block of a tile sums W_0, W_1,
	// … in the order of z and stores C from that sum.
	Sgemm = kernel(SgemmModule, "sgemm",
		p("m", U32), p("n", U32), p("k", U32), p("alpha", F32),
		p("a", U64), p("lda", U32), p("b", U64), p("ldb", U32),
		p("beta", F32), p("c", U64), p("ldc", U32), p("trans", U32),
		p("kslice", U32), p("w", U64), p("counts", U64),
		p("act", U32), p("y", U64), p("ldy", U32))
	// Scale sets C = beta*C, writing zeros when beta is 0. Grid
	// (ceil(n/32), min(ceil(m/8), 65535)), block (32, 8).
	Scale = kernel(SgemmModule, "scale",
		p("c", U64), p("m", U32), p("n", U32), p("ldc", U32), p("beta", F32))

	// Sgemm64 is Sgemm with 64×64 tiles of C: grid (ceil(n/64),
	// ceil(m/64), splits), block 256, the same parameters.
	Sgemm64 = kernel(Sgemm64Module, "sgemm64", Sgemm.Params...)

	// BiasAct sets y = act(y + bias); bias may be null. 2-D launch as
	// Scale.
	BiasAct = kernel(ElementwiseModule, "bias_act",
		p("y", U64), p("bias", U64), p("rows", U32), p("cols", U32), p("ld", U32), p("act", U32))
	// ActGrad multiplies d by act'(y), from the outputs y. 2-D launch.
	ActGrad = kernel(ElementwiseModule, "act_grad",
		p("d", U64), p("ldd", U32), p("y", U64), p("ldy", U32),
		p("rows", U32), p("cols", U32), p("act", U32))
	// SoftmaxRows sets each row of y to softmax(y + bias); bias may be
	// null. Row launch: block 256, grid ceil(rows/8).
	SoftmaxRows = kernel(ElementwiseModule, "softmax_rows",
		p("y", U64), p("bias", U64), p("rows", U32), p("cols", U32), p("ld", U32))
	// SoftmaxGrad sets d = y*(d - sum(d*y)) row by row. Row launch.
	SoftmaxGrad = kernel(ElementwiseModule, "softmax_grad",
		p("d", U64), p("ldd", U32), p("y", U64), p("ldy", U32), p("rows", U32), p("cols", U32))
	// BiasGrad sets db to the column sums of d. Block (32, 32), grid
	// ceil(cols/32).
	BiasGrad = kernel(ElementwiseModule, "bias_grad",
		p("db", U64), p("d", U64), p("rows", U32), p("cols", U32), p("ldd", U32))
	// GatherRows copies rows idx[i] (uint32) of src to rows i of dst. 2-D
	// launch.
	GatherRows = kernel(ElementwiseModule, "gather_rows",
		p("dst", U64), p("ldd", U32), p("src", U64), p("lds", U32),
		p("idx", U64), p("srcrows", U32), p("rows", U32), p("cols", U32))
	// GatherRowsU8 is GatherRows from a matrix of bytes (lds bytes
	// between rows), each converted to float32 and divided by div,
	// correctly rounded. 2-D launch.
	GatherRowsU8 = kernel(ElementwiseModule, "gather_rows_u8",
		p("dst", U64), p("ldd", U32), p("src", U64), p("lds", U32),
		p("idx", U64), p("srcrows", U32), p("rows", U32), p("cols", U32), p("div", F32))

	// SoftmaxCE computes softmax cross-entropy from the logits z: the
	// gradient g (may be null or z) and the loss and hit sums in stats
	// (may be null). Row launch.
	SoftmaxCE = kernel(LossModule, "softmax_ce",
		p("z", U64), p("ldz", U32), p("y", U64), p("ldy", U32),
		p("g", U64), p("ldg", U32), p("rows", U32), p("cols", U32),
		p("scale", F32), p("stats", U64))
	// CCE computes Keras's categorical cross-entropy on the outputs p of
	// activation act. Row launch.
	CCE = kernel(LossModule, "cce",
		p("p", U64), p("ldp", U32), p("y", U64), p("ldy", U32),
		p("g", U64), p("ldg", U32), p("rows", U32), p("cols", U32),
		p("scale", F32), p("act", U32), p("stats", U64))
	// MSE computes the mean squared error of the outputs p of activation
	// act. Row launch.
	MSE = kernel(LossModule, "mse",
		p("p", U64), p("ldp", U32), p("y", U64), p("ldy", U32),
		p("g", U64), p("ldg", U32), p("rows", U32), p("cols", U32),
		p("scale", F32), p("act", U32), p("stats", U64))

	// SGD updates w (and the velocity v when mu != 0). Block 256, grid
	// ceil(n/256).
	SGD = kernel(OptimModule, "sgd",
		p("w", U64), p("g", U64), p("v", U64), p("n", U32), p("lr", F32), p("mu", F32))
	// RMSprop updates w and the mean square ms.
	RMSprop = kernel(OptimModule, "rmsprop",
		p("w", U64), p("g", U64), p("ms", U64), p("n", U32),
		p("lr", F32), p("rho", F32), p("eps", F32))
	// AdamStep advances Adam's 3-float step state; one thread.
	AdamStep = kernel(OptimModule, "adam_step",
		p("state", U64), p("lr", F32), p("beta1", F32), p("beta2", F32))
	// Adam updates w and the moments m and v with the step size from
	// the state that AdamStep advanced.
	Adam = kernel(OptimModule, "adam",
		p("w", U64), p("g", U64), p("m", U64), p("v", U64), p("n", U32),
		p("state", U64), p("beta1", F32), p("beta2", F32), p("eps", F32))
)

// Modules returns the portable modules in a fixed order.
func Modules() []*Module {
	return []*Module{SgemmModule, Sgemm64Module, ElementwiseModule, LossModule, OptimModule}
}

// Kernels returns every kernel of every module.
func Kernels() []*Kernel {
	var ks []*Kernel
	for _, m := range Modules() {
		ks = append(ks, m.Kernels...)
	}
	return ks
}
