package cuda

import (
	"fmt"
	"maps"

	"github.com/gokernels/gemm/ptx"
)

// Kernels is the set of embedded kernels of package ptx, loaded into one
// context.
type Kernels struct {
	mods []*Module
	fns  map[*ptx.Kernel]*Function // the portable forms
	// The sm80/ forms of the SGEMM kernels, where they loaded: they run
	// the products with A transposed and B not, whose tiles of both
	// operands go to shared memory in 16-byte cp.async copies. With
	// either operand the other way round, its copies are 4 bytes each,
	// and the portable form, which loads through registers, is faster
	// (H200, 4096³: NN 41 TFLOP/s portable against 38, NT 40 against 29;
	// TN 47 sm80/ against 41).
	tn map[*ptx.Kernel]*Function
}

// Kernels loads the embedded PTX modules into c the first time it is
// called and returns them; later calls return the same set. A failed
// load is retried by the next call. Each module is loaded in its
// portable form and, where ptx.Module.For picks another for the device
// (sm80/ on compute capability 8.0 and later), in that form too, for the
// products it runs faster; a variant that fails to load is left out.
// InfoLog names the files loaded.
func (c *Context) Kernels() (*Kernels, error) {
	if c.sim != nil {
		return nil, notSimulated("cuModuleLoadDataEx")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kernels != nil {
		return c.kernels, nil
	}
	ks := &Kernels{fns: map[*ptx.Kernel]*Function{}, tn: map[*ptx.Kernel]*Function{}}
	for _, pm := range ptx.Modules() {
		if err := ks.load(c, pm, pm, ks.fns); err != nil {
			ks.unload()
			return nil, err
		}
		if v := pm.For(c.dev.Major); v != pm {
			// The variant's error is dropped: the portable form serves,
			// and a driver or device fault shows in the next call.
			ks.load(c, pm, v, ks.tn)
		}
	}
	c.kernels = ks
	return ks, nil
}

// load loads form, pm or one of its variants, and enters the functions
// of pm's kernels in fns.
func (ks *Kernels) load(c *Context, pm, form *ptx.Module, fns map[*ptx.Kernel]*Function) error {
	m, err := c.LoadModule(form.File, form.Source)
	if err != nil {
		return err
	}
	found := map[*ptx.Kernel]*Function{}
	for _, k := range pm.Kernels {
		f, err := m.Function(k.Name)
		if err != nil {
			m.Unload()
			return err
		}
		// The launchers' table, which a test checks against the PTX.
		f.params, f.checked = k.Params, true
		found[k] = f
	}
	ks.mods = append(ks.mods, m)
	maps.Copy(fns, found)
	return nil
}

// unload unloads the modules and returns the first error.
func (ks *Kernels) unload() error {
	var err error
	for _, m := range ks.mods {
		if e := m.Unload(); err == nil {
			err = e
		}
	}
	return err
}

// Function returns the loaded function of kernel k, in its portable form.
func (ks *Kernels) Function(k *ptx.Kernel) *Function {
	f, ok := ks.fns[k]
	if !ok {
		panic(fmt.Sprintf("cuda: kernel %s is not one of the embedded kernels", k.Name))
	}
	return f
}

// function returns the function that runs launch l: the kernel's sm80/
// form for a product with A transposed and B not (l.tn), where it is
// loaded, else the portable form.
func (ks *Kernels) function(l *launch) *Function {
	if f, ok := ks.tn[l.kernel]; ok && l.tn {
		return f
	}
	return ks.Function(l.kernel)
}

// InfoLog returns the JIT information logs of the modules: registers and
// memory of every kernel as the driver compiled them for this device.
func (ks *Kernels) InfoLog() string {
	var s string
	for _, m := range ks.mods {
		s += "== " + m.name + "\n" + m.InfoLog + "\n"
	}
	return s
}

// launch is one kernel launch, built by the launchers of this package
// without touching the driver, so that tests can check it.
type launch struct {
	kernel      *ptx.Kernel
	grid, block Dim3
	args        []Arg
	tn          bool // an SGEMM product with A transposed and B not
}

// run queues l on s.
func (l *launch) run(s *Stream) error {
	if s == nil {
		panic("cuda: " + l.kernel.Name + " on a nil stream")
	}
	if s.ctx.sim != nil {
		return s.ctx.sim.launch(s, l)
	}
	ks, err := s.ctx.Kernels()
	if err != nil {
		return err
	}
	return s.Launch(ks.function(l), l.grid, l.block, 0, l.args...)
}
