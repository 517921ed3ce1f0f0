package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/ptx"
	"github.com/gokernels/gemm/ptx/ptxsim"
	ref "github.com/gokernels/gemm/ptx/ptxtest"
)

// simDevice runs the launches that the launchers of this package build, as
// they are (kernel, grid, block, arguments), in the PTX simulator: it
// checks the launch geometry and argument order of every launcher without
// a GPU. Only the driver calls are left out.
type simDevice struct {
	t    *testing.T
	mem  *ptxsim.Memory
	mods map[*ptx.Module]*ptxsim.Module
}

func newSimDevice(t *testing.T) *simDevice {
	return &simDevice{t: t, mem: ptxsim.NewMemory(), mods: map[*ptx.Module]*ptxsim.Module{}}
}

func (d *simDevice) buf(v []float32) operand {
	return operand{ptr: DevicePtr(d.mem.AllocFloat32s(v)), n: len(v), ok: true}
}

func (d *simDevice) idx(v []uint32) operand {
	return operand{ptr: DevicePtr(d.mem.AllocUint32s(v)), n: len(v), ok: true}
}

func (d *simDevice) read(o operand) []float32 { return d.mem.Float32s(uint64(o.ptr), o.n) }

func (d *simDevice) run(ls ...*launch) {
	d.t.Helper()
	for _, l := range ls {
		if l == nil {
			continue
		}
		m, ok := d.mods[l.kernel.Module]
		if !ok {
			var err error
			if m, err = ptxsim.Parse(l.kernel.Module.Source); err != nil {
				d.t.Fatal(err)
			}
			d.mods[l.kernel.Module] = m
		}
		checkArgs(l.kernel.Name, l.kernel.Params, l.args)
		bits := make([]uint64, len(l.args))
		for i, a := range l.args {
			bits[i] = a.bits
		}
		g, b := l.grid.norm(), l.block.norm()
		if err := m.Launch(d.mem, l.kernel.Name, ptxsim.Dim3{X: int(g.X), Y: int(g.Y), Z: int(g.Z)},
			ptxsim.Dim3{X: int(b.X), Y: int(b.Y), Z: int(b.Z)}, bits...); err != nil {
			d.t.Fatal(err)
		}
	}
}

func TestSimSgemmLaunches(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, x := range []sgemmCase{
		{gemm.NoTrans, gemm.NoTrans, 70, 33, 20, 1, 0, 1.5, 0.5},
		{gemm.Trans, gemm.Trans, 33, 70, 9, 0, 0, 1, 0},
		{gemm.NoTrans, gemm.Trans, 130, 5, 17, 4, 0, -1, 1},
		{gemm.Trans, gemm.NoTrans, 20, 20, 0, 0, 0, 1, 3},   // scale
		{gemm.NoTrans, gemm.NoTrans, 20, 20, 5, 0, 0, 0, 0}, // zeros
	} {
		for _, small := range []bool{false, true} {
			d := newSimDevice(t)
			ar, ac, br, bc := ref.Stored(x.tA == gemm.Trans, x.tB == gemm.Trans, x.m, x.n, x.k)
			lda, ldb, ldc := max(ac, 1)+x.pad, max(bc, 1)+x.pad, x.n+x.pad
			a, b, c := random(r, max(ar*lda, 1), 1), random(r, max(br*ldb, 1), 1), random(r, x.m*ldc, 1)
			if x.beta == 0 {
				for i := range c {
					c[i] = float32(math.NaN())
				}
			}
			oa, ob, oc := d.buf(a), d.buf(b), d.buf(c)
			l := sgemmLaunch(x.tA, x.tB, x.m, x.n, x.k, x.alpha, oa, lda, ob, ldb, x.beta, oc, ldc)
			if small && l != nil && l.kernel == ptx.Sgemm {
				// As Sgemm plans it on 16 SMs without a workspace: sgemm64.
				l = sgemmPlan(l, operand{}, &Device{SMs: 16, Major: 9})
				if l.kernel != ptx.Sgemm64 || l.grid.Z != 1 {
					t.Fatalf("%+v: planned %s in %d slices", x, l.kernel.Name, l.grid.Z)
				}
			}
			d.run(l)
			got := d.read(oc)
			bound := make([]float64, len(c))
			if x.k == 0 || x.alpha == 0 {
				ref.Scale(c, x.m, x.n, ldc, x.beta)
			} else {
				bound = ref.Sgemm(x.tA == gemm.Trans, x.tB == gemm.Trans, x.m, x.n, x.k, x.alpha, a, lda, b, ldb, x.beta, c, ldc)
			}
			for i := range got {
				if !ref.Close(got[i], c[i], bound[i], 0) {
					t.Fatalf("%+v (small %v): C[%d] = %v, want %v", x, small, i, got[i], c[i])
				}
			}
		}
	}
}

func TestSimLayerLaunches(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	rows, cols, ld := 37, 45, 48
	t.Run("BiasAct", func(t *testing.T) {
		for _, act := range []Activation{Sigmoid, ReLU, Tanh, Softmax, Identity} {
			d := newSimDevice(t)
			y, bias := random(r, rows*ld, 3), random(r, cols, 1)
			oy, ob := d.buf(y), d.buf(bias)
			d.run(biasActLaunch(act, oy, rows, cols, ld, ob))
			if act == Softmax {
				ref.SoftmaxRows(y, bias, rows, cols, ld)
			} else {
				ref.BiasAct(int(act), y, rows, cols, ld, bias)
			}
			ref.Compare(t, act.String(), d.read(oy), y, 1e-6, 1e-5)
		}
	})
	t.Run("ActGrad", func(t *testing.T) {
		for _, act := range []Activation{Tanh, Softmax} {
			d := newSimDevice(t)
			dd, y := random(r, rows*ld, 1), random(r, rows*cols, 1)
			if act == Softmax {
				ref.SoftmaxRows(y, nil, rows, cols, cols)
			}
			od, oy := d.buf(dd), d.buf(y)
			d.run(actGradLaunch(act, od, ld, oy, cols, rows, cols))
			if act == Softmax {
				ref.SoftmaxGrad(dd, ld, y, cols, rows, cols)
			} else {
				ref.ActGrad(int(act), dd, ld, y, cols, rows, cols)
			}
			ref.Compare(t, act.String(), d.read(od), dd, 1e-6, 1e-5)
		}
	})
	t.Run("BiasGrad", func(t *testing.T) {
		d := newSimDevice(t)
		g, db := random(r, rows*ld, 1), make([]float32, cols)
		og, odb := d.buf(g), d.buf(db)
		d.run(biasGradLaunch(odb, og, rows, cols, ld))
		ref.BiasGrad(db, g, rows, cols, ld)
		ref.Compare(t, "db", d.read(odb), db, 1e-5, 1e-5)
	})
	t.Run("GatherRows", func(t *testing.T) {
		d := newSimDevice(t)
		src, dst := random(r, 50*cols, 1), random(r, rows*ld, 1)
		idx := make([]uint32, rows)
		for i := range idx {
			idx[i] = uint32(r.IntN(50))
		}
		os, od, oi := d.buf(src), d.buf(dst), d.idx(idx)
		d.run(gatherRowsLaunch("GatherRows", od, ld, os, cols, 50, oi, rows, cols))
		ref.GatherRows(dst, ld, src, cols, idx, 50, rows, cols)
		ref.Compare(t, "dst", d.read(od), dst, 0, 0)
	})
}

func TestSimLossLaunches(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	rows, cols := 19, 10
	y := make([]float32, rows*cols)
	for i := range rows {
		y[i*cols+r.IntN(cols)] = 1
	}
	for _, kind := range []string{"SoftmaxCE", "CCE", "MSE"} {
		d := newSimDevice(t)
		out := random(r, rows*cols, 2)
		act := Sigmoid
		switch kind {
		case "CCE":
			for i := range out {
				out[i] = r.Float32()*0.9 + 0.05
			}
		case "MSE":
			act = Softmax
			ref.SoftmaxRows(out, nil, rows, cols, cols)
		}
		g := make([]float32, rows*cols)
		oo, oy, og, ost := d.buf(out), d.buf(y), d.buf(g), d.buf(make([]float32, StatsLen(rows)))
		const scale = 1.0 / 19
		var loss, hits float64
		switch kind {
		case "SoftmaxCE":
			d.run(lossLaunch(kind, ptx.SoftmaxCE, 0, false, oo, cols, oy, cols, og, cols, rows, cols, scale, ost))
			loss, hits = ref.SoftmaxCE(out, cols, y, cols, g, cols, rows, cols, scale)
		case "CCE":
			d.run(lossLaunch(kind, ptx.CCE, act, true, oo, cols, oy, cols, og, cols, rows, cols, scale, ost))
			loss, hits = ref.CCE(out, cols, y, cols, g, cols, rows, cols, scale, int(act))
		case "MSE":
			d.run(lossLaunch(kind, ptx.MSE, act, true, oo, cols, oy, cols, og, cols, rows, cols, scale, ost))
			loss, hits = ref.MSE(out, cols, y, cols, g, cols, rows, cols, scale, int(act))
		}
		ref.Compare(t, kind+" g", d.read(og), g, 1e-7, 2e-5)
		gl, gh := SumStats(d.read(ost))
		if math.Abs(gl-loss) > 1e-5*(1+math.Abs(loss)) || gh != hits {
			t.Errorf("%s: stats %v, %v, want %v, %v", kind, gl, gh, loss, hits)
		}
	}
}

func TestSimOptimizerLaunches(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	const n = 700
	d := newSimDevice(t)
	w, g, v := random(r, n, 1), random(r, n, 1), make([]float32, n)
	ow, og, ov := d.buf(w), d.buf(g), d.buf(v)
	d.run(sgdLaunch(ow, og, ov, 0.1, 0.9))
	ref.SGD(w, g, v, 0.1, 0.9)
	ref.Compare(t, "sgd w", d.read(ow), w, 0, 0)
	ref.Compare(t, "sgd v", d.read(ov), v, 0, 0)

	ms := make([]float32, n)
	oms := d.buf(ms)
	d.run(rmspropLaunch(ow, og, oms, 0.001, 0.9, 1e-7))
	ref.RMSprop(w, g, ms, 0.001, 0.9, 1e-7)
	ref.Compare(t, "rmsprop w", d.read(ow), w, 0, 0)

	m, v2, state := make([]float32, n), make([]float32, n), []float32{1, 1, 0}
	om, ov2, ost := d.buf(m), d.buf(v2), d.buf(state)
	for range 2 {
		d.run(adamLaunches(ow, og, om, ov2, ost, 0.001, 0.9, 0.999, 1e-7)...)
		ref.AdamStep(state, 0.001, 0.9, 0.999)
		ref.Adam(w, g, m, v2, state, 0.9, 0.999, 1e-7)
	}
	ref.Compare(t, "adam w", d.read(ow), w, 0, 0)
	ref.Compare(t, "adam state", d.read(ost), state, 0, 0)
}
