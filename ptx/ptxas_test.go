package ptx_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gokernels/gemm/ptx"
)

// ptxasLimits are the resources a kernel may use at most: its registers
// (per thread) and static shared memory (bytes). Registers above the limit
// cost occupancy, which package cuda's tiling assumes (sgemmPerSM,
// sgemm64PerSM): one block of sgemm (128x128 tile) and three of sgemm64
// (64x64) on a multiprocessor of 64K registers; on the GPUs that run the
// sm80/ forms, two and four (ptxasLimitsSM80), and four sgemm64 blocks of
// either form on sm_90. The portable forms need 131 and 72 registers on
// sm_52 and 128 and 63 on sm_90 (CUDA 13's ptxas: 133 and 64), the sm80/
// forms 125 and 64 on sm_80 and 121 and 63 on sm_90 (CUDA 13: 128, 63).
var ptxasLimits = map[string][2]int{
	"sgemm":   {136, 48 << 10},
	"sgemm64": {80, 48 << 10},
}

// ptxasLimitsSM80 are the limits of the kernels in sm80/.
var ptxasLimitsSM80 = map[string][2]int{
	"sgemm":   {128, 48 << 10},
	"sgemm64": {64, 48 << 10},
}

const ptxasDefaultRegs = 64

// ptxasInfo matches the lines of ptxas -v that the test reads.
var (
	ptxasEntry = regexp.MustCompile(`Compiling entry function '(\w+)' for '(\w+)'`)
	ptxasSpill = regexp.MustCompile(`(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads`)
	ptxasRegs  = regexp.MustCompile(`Used (\d+) registers(?:, (\d+) bytes smem)?`)
)

// TestPTXAS assembles every embedded module with ptxas, the CUDA
// toolkit's PTX assembler (the compiler the driver's JIT runs), for the
// oldest target it declares (sm_52, or sm_80 for the variants in sm80/)
// and for sm_90, and checks that each kernel assembles without a stack
// frame or spills and within its register and shared-memory limits. A
// ptxas too new to know sm_52 (CUDA 13 dropped Maxwell to Volta) skips
// that target. It runs where ptxas is on the PATH or named by $PTXAS
// (.ci/cuda-tools fetches one); elsewhere it skips.
func TestPTXAS(t *testing.T) {
	bin := os.Getenv("PTXAS")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("ptxas"); err != nil {
			t.Skip("no ptxas: set $PTXAS or put the CUDA toolkit's bin on the PATH (.ci/cuda-tools fetches one)")
		}
	}
	dir := t.TempDir()
	for _, e := range allModules() {
		m, file := e.m, e.m.File
		src := filepath.Join(dir, strings.ReplaceAll(file, "/", "_"))
		if err := os.WriteFile(src, []byte(m.Source), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, arch := range []string{e.target, "sm_90"} {
			out, err := exec.Command(bin, "-arch="+arch, "-v", "-o", os.DevNull, src).CombinedOutput()
			if err != nil && strings.Contains(string(out), "is not defined for option 'gpu-name'") {
				// CUDA 13's ptxas no longer assembles for Maxwell to Volta.
				t.Logf("this ptxas does not know %s: %s", arch, strings.TrimSpace(string(out)))
				continue
			}
			if err != nil {
				t.Errorf("ptxas -arch=%s %s: %v\n%s", arch, file, err, out)
				continue
			}
			checkPTXAS(t, file, e.kernels, arch, string(out))
		}
	}
}

// checkPTXAS checks the resource lines ptxas -v printed for one module.
func checkPTXAS(t *testing.T, file string, kernels []*ptx.Kernel, arch, out string) {
	t.Helper()
	seen := map[string]bool{}
	entry := ""
	limits := ptxasLimits
	switch {
	case strings.HasPrefix(file, "sm80/"):
		limits = ptxasLimitsSM80
	case arch == "sm_90":
		// The portable forms run on sm_90 too (package cuda takes them
		// for the products whose operands the sm80/ forms copy 4 bytes
		// at a time): four sgemm64 blocks a multiprocessor, as the sm80/
		// form; sgemm is planned at one block.
		limits = map[string][2]int{"sgemm": ptxasLimits["sgemm"], "sgemm64": ptxasLimitsSM80["sgemm64"]}
	}
	for _, line := range strings.Split(out, "\n") {
		if s := ptxasEntry.FindStringSubmatch(line); s != nil {
			entry = s[1]
			seen[entry] = true
			if s[2] != arch {
				t.Errorf("%s: %s compiled for %s, want %s", file, entry, s[2], arch)
			}
			continue
		}
		if s := ptxasSpill.FindStringSubmatch(line); s != nil {
			if s[1] != "0" || s[2] != "0" || s[3] != "0" {
				t.Errorf("%s %s %s: %s", arch, file, entry, strings.TrimSpace(line))
			}
			continue
		}
		if s := ptxasRegs.FindStringSubmatch(line); s != nil {
			regs, _ := strconv.Atoi(s[1])
			smem, _ := strconv.Atoi(s[2])
			limit, ok := limits[entry]
			if !ok {
				limit = [2]int{ptxasDefaultRegs, 8 << 10}
			}
			if regs > limit[0] || smem > limit[1] {
				t.Errorf("%s %s %s: %d registers, %d bytes of shared memory; limits %d, %d",
					arch, file, entry, regs, smem, limit[0], limit[1])
			}
			t.Logf("%s %s: %d registers, %d bytes smem", arch, entry, regs, smem)
		}
	}
	for _, k := range kernels {
		if !seen[k.Name] {
			t.Errorf("ptxas -arch=%s %s: no entry %s in its output", arch, file, k.Name)
		}
	}
}
