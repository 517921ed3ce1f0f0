package ptx_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gokernels/gemm/ptx"
	"github.com/gokernels/gemm/ptx/ptxsim"
	ref "github.com/gokernels/gemm/ptx/ptxtest"
)

// grid2D is the launch of the 2-D kernels; maxY below the row count makes
// the kernels walk the remaining rows.
func grid2D(rows, cols, maxY int) (ptxsim.Dim3, ptxsim.Dim3) {
	return ptxsim.Dim3{X: (cols + 31) / 32, Y: min((rows+7)/8, maxY)}, ptxsim.Dim3{X: 32, Y: 8}
}

func gridRows(rows int) (ptxsim.Dim3, ptxsim.Dim3) {
	return ptxsim.Dim3{X: (rows + ptx.RowsPerBlock - 1) / ptx.RowsPerBlock}, ptxsim.Dim3{X: 256}
}

func scaled(r *rand.Rand, n int, s float32) []float32 {
	v := randSlice(r, n)
	for i := range v {
		v[i] *= s
	}
	return v
}

var actNames = []string{"identity", "sigmoid", "relu", "tanh", "softmax"}

func TestSimBiasAct(t *testing.T) {
	mod := simModule(t, ptx.ElementwiseModule)
	rows, cols, ld := 21, 45, 47
	for act := range 4 {
		for _, withBias := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/bias=%v", actNames[act], withBias), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(act), 3))
				y := scaled(r, rows*ld, 4)
				specials := []float32{nan(), float32(math.Inf(1)), float32(math.Inf(-1)), 0.1, -0.2, 0, 1e-4, 20, -20, 0.26}
				copy(y, specials)
				var bias []float32
				mem := ptxsim.NewMemory()
				var pb uint64
				if withBias {
					bias = scaled(r, cols, 0.5)
					bias[0] = 0
					pb = alloc(mem, bias, 0)
				}
				py := alloc(mem, y, 0)
				g, b := grid2D(rows, cols, 2)
				if err := mod.Launch(mem, "bias_act", g, b, py, pb, uint64(rows), uint64(cols), uint64(ld), uint64(act)); err != nil {
					t.Fatal(err)
				}
				want := append([]float32(nil), y...)
				ref.BiasAct(act, want, rows, cols, ld, bias)
				ref.Compare(t, "y", mem.Float32s(py, len(y)), want, 1e-6, 2e-6)
			})
		}
	}
}

func TestSimActGrad(t *testing.T) {
	mod := simModule(t, ptx.ElementwiseModule)
	rows, cols, ldd, ldy := 19, 40, 41, 44
	for act := range 4 {
		t.Run(actNames[act], func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(act), 4))
			d := randSlice(r, rows*ldd)
			y := randSlice(r, rows*ldy)
			y[0], y[1] = 0, nan()
			mem := ptxsim.NewMemory()
			pd, py := alloc(mem, d, 0), alloc(mem, y, 0)
			g, b := grid2D(rows, cols, 1)
			if err := mod.Launch(mem, "act_grad", g, b, pd, uint64(ldd), py, uint64(ldy), uint64(rows), uint64(cols), uint64(act)); err != nil {
				t.Fatal(err)
			}
			want := append([]float32(nil), d...)
			ref.ActGrad(act, want, ldd, y, ldy, rows, cols)
			if act == ref.ReLU {
				want[1] = 0 // relu' at NaN is 0, as in mlp
			}
			ref.Compare(t, "d", mem.Float32s(pd, len(d)), want, 0, 0)
		})
	}
}

func TestSimSoftmax(t *testing.T) {
	mod := simModule(t, ptx.ElementwiseModule)
	for _, cols := range []int{10, 70} {
		for _, withBias := range []bool{false, true} {
			t.Run(fmt.Sprintf("cols=%d/bias=%v", cols, withBias), func(t *testing.T) {
				rows, ld := 13, cols+3
				r := rand.New(rand.NewPCG(uint64(cols), 5))
				y := scaled(r, rows*ld, 10)
				mem := ptxsim.NewMemory()
				var bias []float32
				var pb uint64
				if withBias {
					bias = scaled(r, cols, 3)
					pb = alloc(mem, bias, 0)
				}
				py := alloc(mem, y, 0)
				g, b := gridRows(rows)
				if err := mod.Launch(mem, "softmax_rows", g, b, py, pb, uint64(rows), uint64(cols), uint64(ld)); err != nil {
					t.Fatal(err)
				}
				want := append([]float32(nil), y...)
				ref.SoftmaxRows(want, bias, rows, cols, ld)
				ref.Compare(t, "y", mem.Float32s(py, len(y)), want, 1e-7, 1e-5)

				// The gradient through the softmax just computed.
				ldd := cols + 1
				d := randSlice(r, rows*ldd)
				pd := alloc(mem, d, 0)
				if err := mod.Launch(mem, "softmax_grad", g, b, pd, uint64(ldd), py, uint64(ld), uint64(rows), uint64(cols)); err != nil {
					t.Fatal(err)
				}
				wantD := append([]float32(nil), d...)
				ref.SoftmaxGrad(wantD, ldd, mem.Float32s(py, len(y)), ld, rows, cols)
				ref.Compare(t, "d", mem.Float32s(pd, len(d)), wantD, 1e-6, 1e-5)
			})
		}
	}
}

func TestSimBiasGrad(t *testing.T) {
	mod := simModule(t, ptx.ElementwiseModule)
	for _, c := range []struct{ rows, cols int }{{70, 45}, {1, 1}, {33, 64}} {
		t.Run(fmt.Sprintf("rows=%d/cols=%d", c.rows, c.cols), func(t *testing.T) {
			ldd := c.cols + 2
			r := rand.New(rand.NewPCG(uint64(c.rows), 6))
			d := randSlice(r, c.rows*ldd)
			db := make([]float32, c.cols+1)
			db[c.cols] = 99 // guard
			mem := ptxsim.NewMemory()
			pd, pdb := alloc(mem, d, 0), alloc(mem, db, 0)
			if err := mod.Launch(mem, "bias_grad", ptxsim.Dim3{X: (c.cols + 31) / 32}, ptxsim.Dim3{X: 32, Y: 32},
				pdb, pd, uint64(c.rows), uint64(c.cols), uint64(ldd)); err != nil {
				t.Fatal(err)
			}
			want := append([]float32(nil), db...)
			ref.BiasGrad(want, d, c.rows, c.cols, ldd)
			ref.Compare(t, "db", mem.Float32s(pdb, len(db)), want, 1e-6, 1e-5)
		})
	}
}

func TestSimGatherRows(t *testing.T) {
	mod := simModule(t, ptx.ElementwiseModule)
	srcRows, cols, lds, ldd, rows := 30, 13, 15, 14, 11
	r := rand.New(rand.NewPCG(7, 7))
	src := randSlice(r, srcRows*lds)
	dst := randSlice(r, rows*ldd)
	idx := make([]uint32, rows)
	for i := range idx {
		idx[i] = uint32(r.IntN(srcRows))
	}
	idx[3] = uint32(srcRows) // bad: NaN row
	mem := ptxsim.NewMemory()
	ps, pd, pi := alloc(mem, src, 0), alloc(mem, dst, 0), mem.AllocUint32s(idx)
	g, b := grid2D(rows, cols, 1)
	if err := mod.Launch(mem, "gather_rows", g, b, pd, uint64(ldd), ps, uint64(lds), pi, uint64(srcRows), uint64(rows), uint64(cols)); err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), dst...)
	ref.GatherRows(want, ldd, src, lds, idx, srcRows, rows, cols)
	ref.Compare(t, "dst", mem.Float32s(pd, len(dst)), want, 0, 0)
}

// TestSimGatherRowsU8 gathers rows of bytes, converted and divided: every
// byte value, several divisors, odd row lengths, and an index past the
// end (a row of NaN). The floats must be Go's float32(b)/div, bit for bit.
func TestSimGatherRowsU8(t *testing.T) {
	mod := simModule(t, ptx.ElementwiseModule)
	srcRows, cols, lds, ldd, rows := 40, 13, 15, 14, 33
	src := make([]byte, srcRows*lds)
	for i := range src {
		src[i] = byte(i * 7)
	}
	r := rand.New(rand.NewPCG(8, 8))
	idx := make([]uint32, rows)
	for i := range idx {
		idx[i] = uint32(r.IntN(srcRows))
	}
	idx[5] = uint32(srcRows) // bad: NaN row
	for _, div := range []float32{255, 200, 3, 1, 0.5, 7.25} {
		mem := ptxsim.NewMemory()
		ps := mem.Alloc(len(src) + 1)
		b, err := mem.Bytes(ps+1, len(src)) // rows at odd addresses
		if err != nil {
			t.Fatal(err)
		}
		copy(b, src)
		dst := randSlice(r, rows*ldd)
		pd, pi := alloc(mem, dst, 0), mem.AllocUint32s(idx)
		g, bl := grid2D(rows, cols, 1)
		if err := mod.Launch(mem, "gather_rows_u8", g, bl, pd, uint64(ldd), ps+1, uint64(lds), pi, uint64(srcRows), uint64(rows), uint64(cols), ptxsim.F32(div)); err != nil {
			t.Fatal(err)
		}
		got := mem.Float32s(pd, len(dst))
		for i := range rows {
			for j := range ldd {
				want := dst[i*ldd+j] // past cols: unchanged
				if j < cols {
					want = float32(math.NaN())
					if idx[i] < uint32(srcRows) {
						want = float32(src[int(idx[i])*lds+j]) / div
					}
				}
				if g := got[i*ldd+j]; math.Float32bits(g) != math.Float32bits(want) && !(g != g && want != want) {
					t.Fatalf("div %v: dst[%d, %d] = %v, want %v", div, i, j, g, want)
				}
			}
		}
	}
}

// lossCase builds outputs and one-hot targets for the loss kernels.
func lossData(r *rand.Rand, rows, cols, ld int, positive bool) (out, y []float32) {
	out = scaled(r, rows*ld, 3)
	y = make([]float32, rows*ld)
	for i := range rows {
		y[i*ld+r.IntN(cols)] = 1
		if positive {
			for j := range cols {
				out[i*ld+j] = r.Float32()*0.98 + 0.01
			}
		}
	}
	if positive && cols > 2 {
		out[1] = 1e-10 // clipped by cce
		y[0], y[1], y[2] = 0.25, 0.5, 0.25
	}
	return out, y
}

func TestSimLosses(t *testing.T) {
	mod := simModule(t, ptx.LossModule)
	type variant struct {
		kernel string
		act    int
	}
	vs := []variant{{"softmax_ce", 0}}
	for act := range 5 {
		vs = append(vs, variant{"cce", act}, variant{"mse", act})
	}
	for _, v := range vs {
		for _, cols := range []int{10, 37} {
			for _, mode := range []string{"grad", "alias", "nograd"} {
				name := fmt.Sprintf("%s/act=%s/cols=%d/%s", v.kernel, actNames[v.act], cols, mode)
				t.Run(name, func(t *testing.T) {
					rows, ld, ldy, ldg := 21, cols+1, cols+2, cols+3
					r := rand.New(rand.NewPCG(uint64(cols), uint64(v.act)))
					out, y := lossData(r, rows, cols, ld, v.kernel == "cce")
					yy := make([]float32, rows*ldy)
					for i := range rows {
						copy(yy[i*ldy:i*ldy+cols], y[i*ld:i*ld+cols])
					}
					if v.act == ref.Softmax && v.kernel != "softmax_ce" {
						ref.SoftmaxRows(out, nil, rows, cols, ld)
					}
					mem := ptxsim.NewMemory()
					po, py := alloc(mem, out, 0), alloc(mem, yy, 0)
					gr, bl := gridRows(rows)
					// A pair per block, which the kernels add to.
					st0 := make([]float32, 2*gr.X)
					for b := range gr.X {
						st0[2*b], st0[2*b+1] = 0.5, 1
					}
					stats := alloc(mem, st0, 0)
					var pg uint64
					gl := ldg
					var g []float32
					switch mode {
					case "grad":
						g = make([]float32, rows*ldg)
						pg = alloc(mem, g, 0)
					case "alias":
						pg, gl = po, ld
						g = make([]float32, rows*ld)
					}
					const scale = 1.0 / 21
					args := []uint64{po, uint64(ld), py, uint64(ldy), pg, uint64(gl), uint64(rows), uint64(cols), ptxsim.F32(scale)}
					if v.kernel != "softmax_ce" {
						args = append(args, uint64(v.act))
					}
					args = append(args, stats)
					if err := mod.Launch(mem, v.kernel, gr, bl, args...); err != nil {
						t.Fatal(err)
					}
					// The reference, block by block (8 rows each).
					st := mem.Float32s(stats, len(st0))
					for b := range gr.X {
						lo, n := 8*b, min(8, rows-8*b)
						var gb []float32
						if g != nil {
							gb = g[lo*gl:]
						}
						var loss, hits float64
						switch v.kernel {
						case "softmax_ce":
							loss, hits = ref.SoftmaxCE(out[lo*ld:], ld, yy[lo*ldy:], ldy, gb, gl, n, cols, scale)
						case "cce":
							loss, hits = ref.CCE(out[lo*ld:], ld, yy[lo*ldy:], ldy, gb, gl, n, cols, scale, v.act)
						case "mse":
							loss, hits = ref.MSE(out[lo*ld:], ld, yy[lo*ldy:], ldy, gb, gl, n, cols, scale, v.act)
						}
						if !ref.Close(st[2*b], float32(loss+0.5), 1e-5, 1e-5) || st[2*b+1] != float32(hits+1) {
							t.Errorf("block %d: stats = %v, want [%v %v]", b, st[2*b:2*b+2], loss+0.5, hits+1)
						}
					}
					if mode == "nograd" {
						return
					}
					got := mem.Float32s(pg, len(g))
					for i := range rows { // compare the rows × cols part only
						ref.Compare(t, fmt.Sprintf("g[%d]", i), got[i*gl:i*gl+cols], g[i*gl:i*gl+cols], 1e-7, 2e-5)
					}
				})
			}
		}
	}
}

func TestSimOptimizers(t *testing.T) {
	mod := simModule(t, ptx.OptimModule)
	const n = 1000
	r := rand.New(rand.NewPCG(8, 8))
	grid := ptxsim.Dim3{X: 2} // fewer threads than parameters
	block := ptxsim.Dim3{X: 256}
	check := func(t *testing.T, mem *ptxsim.Memory, name string, p uint64, want []float32) {
		t.Helper()
		ref.Compare(t, name, mem.Float32s(p, len(want)), want, 0, 0)
	}
	for _, mu := range []float32{0, 0.9} {
		t.Run(fmt.Sprintf("sgd/mu=%g", mu), func(t *testing.T) {
			w, g, v := randSlice(r, n), randSlice(r, n), randSlice(r, n)
			mem := ptxsim.NewMemory()
			pw, pg := alloc(mem, w, 0), alloc(mem, g, 0)
			var pv uint64
			if mu != 0 {
				pv = alloc(mem, v, 0)
			}
			for range 2 {
				if err := mod.Launch(mem, "sgd", grid, block, pw, pg, pv, n, ptxsim.F32(0.01), ptxsim.F32(mu)); err != nil {
					t.Fatal(err)
				}
				ref.SGD(w, g, v, 0.01, mu)
			}
			check(t, mem, "w", pw, w)
			if mu != 0 {
				check(t, mem, "v", pv, v)
			}
		})
	}
	t.Run("rmsprop", func(t *testing.T) {
		w, g, ms := randSlice(r, n), randSlice(r, n), make([]float32, n)
		mem := ptxsim.NewMemory()
		pw, pg, pms := alloc(mem, w, 0), alloc(mem, g, 0), alloc(mem, ms, 0)
		for range 3 {
			if err := mod.Launch(mem, "rmsprop", grid, block, pw, pg, pms, n, ptxsim.F32(0.001), ptxsim.F32(0.9), ptxsim.F32(1e-7)); err != nil {
				t.Fatal(err)
			}
			ref.RMSprop(w, g, ms, 0.001, 0.9, 1e-7)
		}
		check(t, mem, "w", pw, w)
		check(t, mem, "ms", pms, ms)
	})
	t.Run("adam", func(t *testing.T) {
		w, g, m, v := randSlice(r, n), randSlice(r, n), make([]float32, n), make([]float32, n)
		state := []float32{1, 1, 0}
		mem := ptxsim.NewMemory()
		pw, pg, pm, pv, ps := alloc(mem, w, 0), alloc(mem, g, 0), alloc(mem, m, 0), alloc(mem, v, 0), alloc(mem, state, 0)
		for range 3 {
			if err := mod.Launch(mem, "adam_step", ptxsim.Dim3{X: 1}, ptxsim.Dim3{X: 1}, ps, ptxsim.F32(0.001), ptxsim.F32(0.9), ptxsim.F32(0.999)); err != nil {
				t.Fatal(err)
			}
			if err := mod.Launch(mem, "adam", grid, block, pw, pg, pm, pv, n, ps, ptxsim.F32(0.9), ptxsim.F32(0.999), ptxsim.F32(1e-7)); err != nil {
				t.Fatal(err)
			}
			ref.AdamStep(state, 0.001, 0.9, 0.999)
			ref.Adam(w, g, m, v, state, 0.9, 0.999, 1e-7)
		}
		check(t, mem, "state", ps, state)
		check(t, mem, "w", pw, w)
		check(t, mem, "m", pm, m)
		check(t, mem, "v", pv, v)
	})
}
