package ptxsim

import (
	"testing"

	"github.com/gokernels/gemm/ptx"
)

func TestParseModules(t *testing.T) {
	for _, m := range ptx.Modules() {
		mod, err := Parse(m.Source)
		if err != nil {
			t.Errorf("%s: %v", m.File, err)
			continue
		}
		for _, k := range m.Kernels {
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
