package cuda

import (
	"fmt"
	"math"

	"github.com/gokernels/gemm/ptx"
)

// The launchers of this file queue the kernels a dense network needs for
// training on the device: layer outputs (bias and activation, fused),
// their gradients, the bias gradient, the losses with their gradients and
// statistics, and one optimizer update over all parameters. Matrices are
// row-major (samples are rows) with leading dimensions in elements. Like
// Sgemm they panic, naming the argument, on invalid arguments, and return
// driver errors. Scalars are passed by value, so a captured graph (see
// Stream.Capture) replays them as they were at capture time.

// Activation is a layer's activation function; the values are those of
// mlp.Activation.
type Activation int

// The activations.
const (
	Identity Activation = ptx.ActIdentity
	Sigmoid  Activation = ptx.ActSigmoid
	ReLU     Activation = ptx.ActReLU
	Tanh     Activation = ptx.ActTanh
	Softmax  Activation = ptx.ActSoftmax
)

// String returns the activation's name, as mlp spells it.
func (a Activation) String() string {
	switch a {
	case Identity:
		return "identity"
	case Sigmoid:
		return "sigmoid"
	case ReLU:
		return "relu"
	case Tanh:
		return "tanh"
	case Softmax:
		return "softmax"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

func checkAct(op string, a Activation) {
	if a < Identity || a > Softmax {
		panic(fmt.Sprintf("cuda: %s: unknown activation %d", op, int(a)))
	}
}

// checkShape checks rows and cols.
func checkShape(op string, rows, cols int) {
	if rows < 0 || rows > maxDim {
		panic(fmt.Sprintf("cuda: %s: rows = %d out of range [0, %d]", op, rows, maxDim))
	}
	if cols < 0 || cols > maxDim {
		panic(fmt.Sprintf("cuda: %s: cols = %d out of range [0, %d]", op, cols, maxDim))
	}
}

// checkMat checks a rows×cols matrix named s in x with leading dimension
// ld (named ldName).
func checkMat(op, s, ldName string, rows, cols int, x operand, ld int) {
	if ld < max(1, cols) || ld > maxDim {
		panic(fmt.Sprintf("cuda: %s: %s = %d, want max(1, cols) = %d <= %s <= %d", op, ldName, ld, max(1, cols), ldName, maxDim))
	}
	if rows == 0 || cols == 0 {
		return
	}
	need := (rows-1)*ld + cols
	if !x.ok {
		panic(fmt.Sprintf("cuda: %s: %s is nil, needed for a %d×%d matrix", op, s, rows, cols))
	}
	if x.n < need {
		panic(fmt.Sprintf("cuda: %s: len(%s) = %d < %d, needed for a %d×%d matrix with %s = %d", op, s, x.n, need, rows, cols, ldName, ld))
	}
}

// checkVec checks that x has exactly n elements (or is nil, if nilOK).
func checkVec(op, s string, x operand, n int, want string, nilOK bool) {
	if !x.ok {
		if nilOK {
			return
		}
		panic(fmt.Sprintf("cuda: %s: %s is nil", op, s))
	}
	if x.n != n {
		panic(fmt.Sprintf("cuda: %s: len(%s) = %d, want %s = %d", op, s, x.n, want, n))
	}
}

// BiasAct queues y = act(y + bias) on the rows×cols matrix y: the output of
// a dense layer after y = x·W. bias, of cols elements, may be nil. Softmax
// applies row by row.
func BiasAct(s *Stream, act Activation, y *Buffer[float32], rows, cols, ld int, bias *Buffer[float32]) error {
	oy, ob := opnd("BiasAct", y), opnd("BiasAct", bias)
	sameContext("BiasAct", s, oy, ob)
	return runLaunch(s, biasActLaunch(act, oy, rows, cols, ld, ob))
}

func biasActLaunch(act Activation, y operand, rows, cols, ld int, bias operand) *launch {
	const op = "BiasAct"
	checkAct(op, act)
	checkShape(op, rows, cols)
	checkMat(op, "y", "ld", rows, cols, y, ld)
	checkVec(op, "bias", bias, cols, "cols", true)
	if rows == 0 || cols == 0 || act == Identity && !bias.ok {
		return nil
	}
	if act == Softmax {
		g, b := gridRows(rows)
		return &launch{kernel: ptx.SoftmaxRows, grid: g, block: b,
			args: []Arg{Ptr(y.ptr), Ptr(bias.ptr), U32(uint32(rows)), U32(uint32(cols)), U32(uint32(ld))}}
	}
	g, b := grid2D(rows, cols)
	return &launch{kernel: ptx.BiasAct, grid: g, block: b,
		args: []Arg{Ptr(y.ptr), Ptr(bias.ptr), U32(uint32(rows)), U32(uint32(cols)), U32(uint32(ld)), U32(uint32(act))}}
}

// ActGrad queues d = d ⊙ act'(y) on rows×cols matrices: it turns the
// gradient with respect to a layer's outputs y = act(z) into the gradient
// with respect to z, taking the derivative from y (σ' = y(1−y), tanh' =
// 1−y², relu' = [y > 0]; for softmax d = y ⊙ (d − Σ d·y) row by row).
func ActGrad(s *Stream, act Activation, d *Buffer[float32], ldd int, y *Buffer[float32], ldy, rows, cols int) error {
	od, oy := opnd("ActGrad", d), opnd("ActGrad", y)
	sameContext("ActGrad", s, od, oy)
	return runLaunch(s, actGradLaunch(act, od, ldd, oy, ldy, rows, cols))
}

func actGradLaunch(act Activation, d operand, ldd int, y operand, ldy, rows, cols int) *launch {
	const op = "ActGrad"
	checkAct(op, act)
	checkShape(op, rows, cols)
	checkMat(op, "d", "ldd", rows, cols, d, ldd)
	checkMat(op, "y", "ldy", rows, cols, y, ldy)
	if rows == 0 || cols == 0 || act == Identity {
		return nil
	}
	if act == Softmax {
		g, b := gridRows(rows)
		return &launch{kernel: ptx.SoftmaxGrad, grid: g, block: b,
			args: []Arg{Ptr(d.ptr), U32(uint32(ldd)), Ptr(y.ptr), U32(uint32(ldy)), U32(uint32(rows)), U32(uint32(cols))}}
	}
	g, b := grid2D(rows, cols)
	return &launch{kernel: ptx.ActGrad, grid: g, block: b,
		args: []Arg{Ptr(d.ptr), U32(uint32(ldd)), Ptr(y.ptr), U32(uint32(ldy)), U32(uint32(rows)), U32(uint32(cols)), U32(uint32(act))}}
}

// BiasGrad queues db = the column sums of the rows×cols matrix d (the
// gradient of a layer's bias from that of its pre-activations); db has
// cols elements. The sums are in a fixed order.
func BiasGrad(s *Stream, db *Buffer[float32], d *Buffer[float32], rows, cols, ldd int) error {
	odb, od := opnd("BiasGrad", db), opnd("BiasGrad", d)
	sameContext("BiasGrad", s, odb, od)
	return runLaunch(s, biasGradLaunch(odb, od, rows, cols, ldd))
}

func biasGradLaunch(db, d operand, rows, cols, ldd int) *launch {
	const op = "BiasGrad"
	checkShape(op, rows, cols)
	checkMat(op, "d", "ldd", rows, cols, d, ldd)
	checkVec(op, "db", db, cols, "cols", cols == 0)
	if cols == 0 {
		return nil
	}
	return &launch{kernel: ptx.BiasGrad, grid: Dim3{X: uint32((cols + 31) / 32)}, block: Dim3{X: 32, Y: 32},
		args: []Arg{Ptr(db.ptr), Ptr(d.ptr), U32(uint32(rows)), U32(uint32(cols)), U32(uint32(ldd))}}
}

// GatherRows queues copying rows idx[i] of src (srcRows×cols) to rows i of
// dst (rows×cols): a batch picked from a training set on the device. An
// index at or past srcRows gives a row of NaN.
func GatherRows(s *Stream, dst *Buffer[float32], ldd int, src *Buffer[float32], lds, srcRows int, idx *Buffer[uint32], rows, cols int) error {
	od, os, oi := opnd("GatherRows", dst), opnd("GatherRows", src), opnd("GatherRows", idx)
	sameContext("GatherRows", s, od, os, oi)
	return runLaunch(s, gatherRowsLaunch("GatherRows", od, ldd, os, lds, srcRows, oi, rows, cols))
}

func gatherRowsLaunch(op string, dst operand, ldd int, src operand, lds, srcRows int, idx operand, rows, cols int) *launch {
	checkShape(op, rows, cols)
	checkShape(op, srcRows, cols)
	checkMat(op, "dst", "ldd", rows, cols, dst, ldd)
	checkMat(op, "src", "lds", srcRows, cols, src, lds)
	checkVec(op, "idx", idx, rows, "rows", rows == 0)
	if rows == 0 || cols == 0 {
		return nil
	}
	g, b := grid2D(rows, cols)
	return &launch{kernel: ptx.GatherRows, grid: g, block: b,
		// Room for gatherRowsBytesLaunch's divisor.
		args: append(make([]Arg, 0, 9), Ptr(dst.ptr), U32(uint32(ldd)), Ptr(src.ptr), U32(uint32(lds)), Ptr(idx.ptr),
			U32(uint32(srcRows)), U32(uint32(rows)), U32(uint32(cols)))}
}

// GatherRowsBytes queues GatherRows from a matrix of bytes (srcRows×cols,
// lds bytes between rows), each converted to float32 and divided by div
// (finite, not zero) as it is copied: dst[i][j] = float32(src[idx[i]][j])
// / div, correctly rounded, the bits Go's float32(b)/div gives. A data set
// whose inputs are bytes (MNIST's pixels) stays bytes on the device, a
// quarter of the memory, and is converted a batch at a time.
func GatherRowsBytes(s *Stream, dst *Buffer[float32], ldd int, src *Buffer[uint8], lds, srcRows int, idx *Buffer[uint32], rows, cols int, div float32) error {
	od, os, oi := opnd("GatherRowsBytes", dst), opnd("GatherRowsBytes", src), opnd("GatherRowsBytes", idx)
	sameContext("GatherRowsBytes", s, od, os, oi)
	return runLaunch(s, gatherRowsBytesLaunch(od, ldd, os, lds, srcRows, oi, rows, cols, div))
}

func gatherRowsBytesLaunch(dst operand, ldd int, src operand, lds, srcRows int, idx operand, rows, cols int, div float32) *launch {
	const op = "GatherRowsBytes"
	if div == 0 || div != div || math.IsInf(float64(div), 0) {
		panic(fmt.Sprintf("cuda: %s: div = %v, want a finite non-zero divisor", op, div))
	}
	l := gatherRowsLaunch(op, dst, ldd, src, lds, srcRows, idx, rows, cols)
	if l == nil {
		return nil
	}
	l.kernel = ptx.GatherRowsU8
	l.args = append(l.args, F32(div))
	return l
}

// StatsLen returns the length of the statistics buffer that the loss
// kernels need for batches of up to rows samples: a pair for each block of
// ptx.RowsPerBlock samples, to which the block adds the sum of its
// samples' losses and the number of them whose first largest output is at
// their first largest target. Each block adds to its own pair, without
// atomics, so that the sums are the same on every run; SumStats adds the
// pairs up.
func StatsLen(rows int) int {
	return 2 * ((max(rows, 0) + ptx.RowsPerBlock - 1) / ptx.RowsPerBlock)
}

// SumStats returns the summed loss and hits of a statistics buffer read
// back from the device (see StatsLen), its pairs added in order in
// float64.
func SumStats(stats []float32) (loss, hits float64) {
	for i := 0; i+1 < len(stats); i += 2 {
		loss += float64(stats[i])
		hits += float64(stats[i+1])
	}
	return loss, hits
}

// lossLaunch checks and builds the launch of one of the loss kernels.
func lossLaunch(op string, k *ptx.Kernel, act Activation, withAct bool, out operand, ldo int, y operand, ldy int, g operand, ldg, rows, cols int, scale float32, stats operand) *launch {
	if withAct {
		checkAct(op, act)
	}
	checkShape(op, rows, cols)
	in := "p"
	if k == ptx.SoftmaxCE {
		in = "z"
	}
	checkMat(op, in, "ld"+in, rows, cols, out, ldo)
	checkMat(op, "y", "ldy", rows, cols, y, ldy)
	if g.ok {
		checkMat(op, "g", "ldg", rows, cols, g, ldg)
	} else {
		ldg = max(1, cols)
	}
	if stats.ok && stats.n < StatsLen(rows) {
		panic(fmt.Sprintf("cuda: %s: len(stats) = %d < StatsLen(%d) = %d", op, stats.n, rows, StatsLen(rows)))
	}
	if rows == 0 || cols == 0 || !g.ok && !stats.ok {
		return nil
	}
	gr, b := gridRows(rows)
	args := []Arg{Ptr(out.ptr), U32(uint32(ldo)), Ptr(y.ptr), U32(uint32(ldy)), Ptr(g.ptr), U32(uint32(ldg)),
		U32(uint32(rows)), U32(uint32(cols)), F32(scale)}
	if withAct {
		args = append(args, U32(uint32(act)))
	}
	args = append(args, Ptr(stats.ptr))
	return &launch{kernel: k, grid: gr, block: b, args: args}
}

// SoftmaxCE queues softmax cross-entropy on the rows×cols logits z against
// the targets y: g (may be nil, or z itself) receives scale times the
// gradient with respect to z, (softmax(z)·Σy − y)·scale, and stats (may be
// nil, else at least StatsLen(rows) elements) accumulates the loss
// Σy·logΣe^z − Σy·z and the hits. Clear stats with Fill before the first
// batch of an epoch, and add it up with SumStats after the last.
func SoftmaxCE(s *Stream, z *Buffer[float32], ldz int, y *Buffer[float32], ldy int, g *Buffer[float32], ldg, rows, cols int, scale float32, stats *Buffer[float32]) error {
	oz, oy, og, os := opnd("SoftmaxCE", z), opnd("SoftmaxCE", y), opnd("SoftmaxCE", g), opnd("SoftmaxCE", stats)
	sameContext("SoftmaxCE", s, oz, oy, og, os)
	return runLaunch(s, lossLaunch("SoftmaxCE", ptx.SoftmaxCE, 0, false, oz, ldz, oy, ldy, og, ldg, rows, cols, scale, os))
}

// CCE queues Keras's categorical cross-entropy on the rows×cols outputs p of
// activation act against the targets y: each row of p is normalised to
// sum 1 and clipped to [1e-7, 1−1e-7]. g (may be nil, or p itself)
// receives scale times the gradient with respect to the layer's
// pre-activations (through the normalisation, the clip and act); stats
// accumulates as for SoftmaxCE.
func CCE(s *Stream, act Activation, p *Buffer[float32], ldp int, y *Buffer[float32], ldy int, g *Buffer[float32], ldg, rows, cols int, scale float32, stats *Buffer[float32]) error {
	op, oy, og, os := opnd("CCE", p), opnd("CCE", y), opnd("CCE", g), opnd("CCE", stats)
	sameContext("CCE", s, op, oy, og, os)
	return runLaunch(s, lossLaunch("CCE", ptx.CCE, act, true, op, ldp, oy, ldy, og, ldg, rows, cols, scale, os))
}

// MSE queues the mean squared error (over the outputs of a sample) of the
// outputs p of activation act; g and stats as for CCE.
func MSE(s *Stream, act Activation, p *Buffer[float32], ldp int, y *Buffer[float32], ldy int, g *Buffer[float32], ldg, rows, cols int, scale float32, stats *Buffer[float32]) error {
	op, oy, og, os := opnd("MSE", p), opnd("MSE", y), opnd("MSE", g), opnd("MSE", stats)
	sameContext("MSE", s, op, oy, og, os)
	return runLaunch(s, lossLaunch("MSE", ptx.MSE, act, true, op, ldp, oy, ldy, og, ldg, rows, cols, scale, os))
}

// checkParams checks the vectors of an optimizer update: w and its
// gradient g, and the optimizer's state vectors, all of one length.
func checkParams(op string, w, g operand, state map[string]operand) int {
	if !w.ok {
		panic("cuda: " + op + ": w is nil")
	}
	if w.n > math.MaxInt32 {
		panic(fmt.Sprintf("cuda: %s: len(w) = %d > %d, the largest the kernels support", op, w.n, math.MaxInt32))
	}
	checkVec(op, "g", g, w.n, "len(w)", false)
	for name, x := range state {
		checkVec(op, name, x, w.n, "len(w)", false)
	}
	return w.n
}

func grid1D(n int) (grid, block Dim3) {
	return Dim3{X: uint32((n + 255) / 256)}, Dim3{X: 256}
}

// SGD queues w −= lr·g (mu == 0, v unused and may be nil) or v = mu·v −
// lr·g; w += v, element by element over the whole parameter vector w.
func SGD(s *Stream, w, g, v *Buffer[float32], lr, mu float32) error {
	ow, og, ov := opnd("SGD", w), opnd("SGD", g), opnd("SGD", v)
	sameContext("SGD", s, ow, og, ov)
	return runLaunch(s, sgdLaunch(ow, og, ov, lr, mu))
}

func sgdLaunch(w, g, v operand, lr, mu float32) *launch {
	state := map[string]operand{}
	if mu != 0 {
		state["v"] = v
	}
	n := checkParams("SGD", w, g, state)
	if n == 0 {
		return nil
	}
	if mu == 0 {
		v = operand{}
	}
	gr, b := grid1D(n)
	return &launch{kernel: ptx.SGD, grid: gr, block: b,
		args: []Arg{Ptr(w.ptr), Ptr(g.ptr), Ptr(v.ptr), U32(uint32(n)), F32(lr), F32(mu)}}
}

// RMSprop queues ms = rho·ms + (1−rho)·g²; w −= lr·g/(√ms + eps) over the
// whole parameter vector w (Keras's RMSprop; start ms at zero).
func RMSprop(s *Stream, w, g, ms *Buffer[float32], lr, rho, eps float32) error {
	ow, og, om := opnd("RMSprop", w), opnd("RMSprop", g), opnd("RMSprop", ms)
	sameContext("RMSprop", s, ow, og, om)
	return runLaunch(s, rmspropLaunch(ow, og, om, lr, rho, eps))
}

func rmspropLaunch(w, g, ms operand, lr, rho, eps float32) *launch {
	n := checkParams("RMSprop", w, g, map[string]operand{"ms": ms})
	if n == 0 {
		return nil
	}
	gr, b := grid1D(n)
	return &launch{kernel: ptx.RMSprop, grid: gr, block: b,
		args: []Arg{Ptr(w.ptr), Ptr(g.ptr), Ptr(ms.ptr), U32(uint32(n)), F32(lr), F32(rho), F32(eps)}}
}

// AdamState is the length of Adam's step state: beta1^t, beta2^t and the
// step size; fill a new state with {1, 1, 0}.
const AdamState = 3

// Adam queues one Adam step over the whole parameter vector w: it advances
// the step state (on the device, so that a captured graph replays it),
// then m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g²; w −= αt·m/(√v + eps)
// with αt = lr·√(1−b2^t)/(1−b1^t) (Keras's Adam; start m and v at zero).
func Adam(s *Stream, w, g, m, v, state *Buffer[float32], lr, beta1, beta2, eps float32) error {
	ow, og, om, ov, os := opnd("Adam", w), opnd("Adam", g), opnd("Adam", m), opnd("Adam", v), opnd("Adam", state)
	sameContext("Adam", s, ow, og, om, ov, os)
	for _, l := range adamLaunches(ow, og, om, ov, os, lr, beta1, beta2, eps) {
		if err := l.run(s); err != nil {
			return err
		}
	}
	return nil
}

func adamLaunches(w, g, m, v, state operand, lr, beta1, beta2, eps float32) []*launch {
	n := checkParams("Adam", w, g, map[string]operand{"m": m, "v": v})
	checkVec("Adam", "state", state, AdamState, "AdamState", false)
	step := &launch{kernel: ptx.AdamStep, grid: Dim3{X: 1}, block: Dim3{X: 1},
		args: []Arg{Ptr(state.ptr), F32(lr), F32(beta1), F32(beta2)}}
	if n == 0 {
		return []*launch{step}
	}
	gr, b := grid1D(n)
	return []*launch{step, {kernel: ptx.Adam, grid: gr, block: b,
		args: []Arg{Ptr(w.ptr), Ptr(g.ptr), Ptr(m.ptr), Ptr(v.ptr), U32(uint32(n)), Ptr(state.ptr), F32(beta1), F32(beta2), F32(eps)}}}
}

func runLaunch(s *Stream, l *launch) error {
	if l == nil {
		return nil
	}
	return l.run(s)
}
