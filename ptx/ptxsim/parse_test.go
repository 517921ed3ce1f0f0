package ptxsim

import (
	"testing"

	"github.com/gokernels/gemm/ptx"
)

func TestParseModules(t *testing.T) {
	for _, pm := range ptx.Modules() {
		mods := []*ptx.Module{pm}
		for _, v := range pm.Variants {
			mods = append(mods, v.Module)
		}
		for _, m := range mods {
			mod, err := Parse(m.Source)
			if err != nil {
				t.Errorf("%s: %v", m.File, err)
				continue
			}
			for _, k := range pm.Kernels {
				f, ok := mod.funcs[k.Name]
				if !ok {
					t.Errorf("%s: no entry %s", m.File, k.Name)
					continue
				}
				if len(f.params) != len(k.Params) {
					t.Errorf("%s: %d params, want %d", k.Name, len(f.params), len(k.Params))
				}
			}
		}
	}
}
