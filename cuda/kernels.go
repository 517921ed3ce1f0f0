package cuda

import (
	"fmt"

	"github.com/gokernels/gemm/ptx"
)

// Kernels is the set of embedded kernels of package ptx, loaded into one
// context.
type Kernels struct {
	mods []*Module
	fns  map[*ptx.Kernel]*Function
}

// Kernels loads the embedded PTX modules into c the first time it is
// called and returns them; later calls return the same set. A failed
// load is retried by the next call. Each module is loaded in the form
// that ptx.Module.For picks for the device (sm80/ on compute capability
// 8.0 and later), and in its portable form if that one fails to load;
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
	ks := &Kernels{fns: map[*ptx.Kernel]*Function{}}
	for _, pm := range ptx.Modules() {
		m, err := c.loadModule(pm)
		if err != nil {
			ks.unload()
			return nil, err
		}
		ks.mods = append(ks.mods, m)
		for _, k := range pm.Kernels {
			f, err := m.Function(k.Name)
			if err != nil {
				ks.unload()
				return nil, err
			}
			// The launchers' table, which a test checks against the PTX.
			f.params, f.checked = k.Params, true
			ks.fns[k] = f
		}
	}
	c.kernels = ks
	return ks, nil
}

// loadModule loads the form of pm that suits c's device: its variant, and
// pm itself if the variant fails to load (the error of the variant is
// then dropped; a driver or device fault shows again in pm's).
func (c *Context) loadModule(pm *ptx.Module) (*Module, error) {
	if v := pm.For(c.dev.Major); v != pm {
		if m, err := c.LoadModule(v.File, v.Source); err == nil {
			return m, nil
		}
	}
	return c.LoadModule(pm.File, pm.Source)
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

// Function returns the loaded function of kernel k.
func (ks *Kernels) Function(k *ptx.Kernel) *Function {
	f, ok := ks.fns[k]
	if !ok {
		panic(fmt.Sprintf("cuda: kernel %s is not one of the embedded kernels", k.Name))
	}
	return f
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
	return s.Launch(ks.Function(l.kernel), l.grid, l.block, 0, l.args...)
}
