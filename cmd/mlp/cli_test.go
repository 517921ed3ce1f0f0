package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gokernels/gemm/cuda"
	"github.com/gokernels/gemm/mlp"
)

// runCmd runs the command and returns its exit status and output.
func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// writeMNIST writes small MNIST files into a new folder: n training and
// m test images in which the label decides which pixels are lit, so that
// a network can learn them.
func writeMNIST(t *testing.T, n, m int) string {
	t.Helper()
	dir := t.TempDir()
	for _, s := range []struct {
		img, lbl string
		n        int
	}{{mlp.MNISTTrainImages, mlp.MNISTTrainLabels, n}, {mlp.MNISTTestImages, mlp.MNISTTestLabels, m}} {
		px := make([]byte, s.n*784)
		labels := make([]byte, s.n)
		for i := range labels {
			l := (i * 7) % 10
			labels[i] = byte(l)
			for j := range 40 {
				px[i*784+l*78+j] = byte(128 + (i*j)%128)
			}
		}
		writeIDX(t, filepath.Join(dir, s.img), 0x803, []uint32{uint32(s.n), 28, 28}, px)
		writeIDX(t, filepath.Join(dir, s.lbl), 0x801, []uint32{uint32(s.n)}, labels)
	}
	return dir
}

func writeIDX(t *testing.T, name string, magic uint32, dims []uint32, data []byte) {
	t.Helper()
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	binary.Write(z, binary.BigEndian, magic)
	binary.Write(z, binary.BigEndian, dims)
	z.Write(data)
	z.Close()
	if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

var epochLine = regexp.MustCompile(`^epoch \d+/\d+ - loss \d+\.\d{4} - acc \d\.\d{4} - test_acc \d\.\d{4} - \d+\.\d\d s - \d+ samples/s$`)

func TestTrainAndEval(t *testing.T) {
	data := writeMNIST(t, 300, 100)
	model := filepath.Join(t.TempDir(), "net.mlp")
	code, out, errOut := runCmd("train", "-data", data, "-layers", "784,32,10", "-epochs", "3", "-batch", "64",
		"-optimizer", "adam", "-lr", "0.01", "-workers", "2", "-strategy", "rows", "-save", model)
	if code != 0 || errOut != "" {
		t.Fatalf("train: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("train printed %d lines:\n%s", len(lines), out)
	}
	if !regexp.MustCompile(`^cpu: 2 workers \(of \d+ CPUs?\), strategy rows, kernel (avx512|avx2|go)$`).MatchString(lines[0]) {
		t.Errorf("first line %q", lines[0])
	}
	for i, l := range lines[1:4] {
		if !epochLine.MatchString(l) || !strings.HasPrefix(l, "epoch "+string(rune('1'+i))+"/3 ") {
			t.Errorf("epoch line %q", l)
		}
	}
	if lines[4] != "saved the network to "+model {
		t.Errorf("line 5 %q", lines[4])
	}
	acc := lines[5]
	if !regexp.MustCompile(`^test accuracy: \d+\.\d\d%$`).MatchString(acc) {
		t.Errorf("last line %q", acc)
	}
	if !strings.Contains(lines[3], "test_acc 1.0000") {
		t.Errorf("the network did not learn the easy data: %q", lines[3])
	}

	code, out, errOut = runCmd("eval", "-load", model, "-data", data, "-workers", "1")
	if code != 0 || errOut != "" {
		t.Fatalf("eval: exit %d, stderr %q", code, errOut)
	}
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "test loss: ") || lines[2] != acc {
		t.Errorf("eval printed %q; train ended with %q", out, acc)
	}

	// Training on from the saved network, without epochs, reports the
	// same accuracy.
	code, out, _ = runCmd("train", "-load", model, "-data", data, "-epochs", "0")
	if code != 0 || !strings.HasSuffix(out, acc+"\n") {
		t.Errorf("train -load -epochs 0: exit %d, output %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "missing command"},
		{[]string{"fly"}, `unknown command "fly"`},
		{[]string{"train", "-workers", "0"}, "-workers 0: want 1 to 1024"},
		{[]string{"train", "-workers", "x"}, `invalid value "x" for flag -workers`},
		{[]string{"train", "-batch", "-5"}, "-batch -5: want 1 or more"},
		{[]string{"train", "-strategy", "diagonal"}, `-strategy "diagonal": want rows, cols, grid, splitk or auto`},
		{[]string{"train", "-layers", "784,x,10"}, `-layers "784,x,10"`},
		{[]string{"train", "-layers", "784"}, "at least two widths"},
		{[]string{"train", "-layers", "784,0,10"}, `-layers "784,0,10"`},
		{[]string{"train", "-activation", "swish"}, `-activation "swish"`},
		{[]string{"train", "-loss", "hinge"}, `-loss "hinge"`},
		{[]string{"train", "-optimizer", "lbfgs"}, `-optimizer "lbfgs"`},
		{[]string{"train", "-lr", "-0.1"}, "-lr -0.1"},
		{[]string{"train", "-lr", "NaN"}, "-lr NaN"},
		{[]string{"train", "-epochs", "-1"}, "-epochs -1"},
		{[]string{"train", "-backend", "tpu"}, `-backend "tpu": want cpu or cuda`},
		{[]string{"train", "-backend", "cuda", "-device", "-1"}, "-device -1: want 0 or more"},
		{[]string{"eval", "-load", "x", "-device", "1"}, "-device is for -backend cuda"},
		{[]string{"train", "-backend", "cuda", "-workers", "2"}, "-workers is for -backend cpu"},
		{[]string{"train", "-backend", "cuda", "-strategy", "rows"}, "-strategy is for -backend cpu"},
		{[]string{"train", "-nope"}, "flag provided but not defined: -nope"},
		{[]string{"train", "extra"}, `unexpected argument "extra"`},
		{[]string{"train", "-load", "x.mlp", "-layers", "784,10"}, "-layers cannot be used with -load"},
		{[]string{"eval"}, "-load FILE is required"},
		{[]string{"eval", "-load", "x", "-workers", "-1"}, "-workers -1"},
	} {
		code, out, errOut := runCmd(c.args...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasSuffix(errOut, "\n") || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and one line containing %q", c.args, code, out, errOut, c.want)
		}
	}
}

func TestRuntimeErrors(t *testing.T) {
	empty := t.TempDir()
	junk := filepath.Join(empty, "junk.mlp")
	os.WriteFile(junk, []byte("not a network"), 0o644)
	data := writeMNIST(t, 20, 10)
	wrongShape := filepath.Join(empty, "wrong.mlp")
	if code, _, errOut := runCmd("train", "-data", data, "-layers", "784,5,3", "-epochs", "0", "-save", wrongShape); code != 1 || !strings.Contains(errOut, "gives 3 outputs; MNIST has 784 and 10") {
		t.Errorf("network of the wrong shape: exit %d, %q", code, errOut)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "-data", empty}, []string{"MNIST data not found in " + empty, mlp.MNISTTrainImages, "-data must name a folder"}},
		{[]string{"eval", "-load", junk, "-data", data}, []string{"not a valid network file", "wrong magic number", junk}},
		{[]string{"eval", "-load", filepath.Join(empty, "none.mlp"), "-data", data}, []string{"none.mlp", "no such file"}},
		{[]string{"train", "-epochs", "1", "-data", data, "-save", filepath.Join(empty, "no", "dir", "x.mlp")}, []string{"no such file"}},
	} {
		code, _, errOut := runCmd(c.args...)
		ok := code == 1 && strings.Count(errOut, "\n") == 1
		for _, w := range c.want {
			ok = ok && strings.Contains(errOut, w)
		}
		if !ok {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and one line containing %q", c.args, code, errOut, c.want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"train", "-h"}, {"eval", "-help"}} {
		code, out, errOut := runCmd(args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "usage: mlp") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	_, out, _ := runCmd("train", "-h")
	for _, f := range []string{"-layers", "-activation", "-loss", "-optimizer", "-lr", "-epochs", "-batch", "-workers", "-strategy", "-seed", "-data", "-save", "-load", "-backend", "-device"} {
		if !strings.Contains(out, "  "+f+" ") {
			t.Errorf("train -h does not document %s", f)
		}
	}
}

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, epoch: 2, epochs: 5}
	p.update(300, 600)
	p.update(400, 600) // too soon: skipped
	p.update(600, 600) // the end is always drawn
	p.clear()
	want := "\repoch 2/5 [===============               ] 300/600" +
		"\repoch 2/5 [==============================] 600/600" + "\r\033[K"
	if b.String() != want {
		t.Errorf("progress output %q, want %q", b.String(), want)
	}
	var nilBar *progress
	nilBar.update(1, 2)
	nilBar.clear()
}

// TestCUDABackend runs -backend cuda. Without a driver or a device it must
// say which in one line, before loading any data (the data folder here is
// empty), and exit with status 1; with a GPU (or the fake driver, with
// CUDA_TEST_FAKE set) it must train as the CPU does.
func TestCUDABackend(t *testing.T) {
	if rerunOnFake(t) {
		return
	}
	empty := t.TempDir()
	probe := cuda.Probe(0)
	if errors.Is(probe, cuda.ErrNoDriver) || errors.Is(probe, cuda.ErrNoDevice) {
		want := "-backend cuda: no CUDA driver: "
		if errors.Is(probe, cuda.ErrNoDevice) {
			want = "-backend cuda: no CUDA device 0: "
		}
		for _, args := range [][]string{
			{"train", "-backend", "cuda", "-data", empty},
			{"train", "-backend", "cuda", "-device", "0", "-load", filepath.Join(empty, "none.mlp"), "-data", empty},
			{"eval", "-backend", "cuda", "-load", filepath.Join(empty, "none.mlp"), "-data", empty},
		} {
			code, out, errOut := runCmd(args...)
			if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "or use -backend cpu") {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and one line containing %q", args, code, out, errOut, want)
			}
		}
		t.Skipf("the rest needs a GPU: %v", probe)
	}
	if probe != nil {
		t.Fatal(probe)
	}
	code, _, errOut := runCmd("train", "-backend", "cuda", "-device", "4096", "-data", empty)
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "-backend cuda: no CUDA device 4096: ") {
		t.Errorf("-device 4096: exit %d, stderr %q", code, errOut)
	}
	data := writeMNIST(t, 300, 100)
	model := filepath.Join(t.TempDir(), "net.mlp")
	var outs [2][]string
	for i, backend := range []string{"cpu", "cuda"} {
		code, out, errOut := runCmd("train", "-backend", backend, "-data", data, "-layers", "784,32,10", "-epochs", "3", "-batch", "64",
			"-optimizer", "adam", "-lr", "0.01", "-save", model)
		if code != 0 || errOut != "" {
			t.Fatalf("train -backend %s: exit %d, stderr %q", backend, code, errOut)
		}
		outs[i] = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	}
	lines := outs[1]
	if len(lines) != 6 || !regexp.MustCompile(`^cuda: .+ \(sm_\d+, \d+ SMs\), device 0$`).MatchString(lines[0]) {
		t.Fatalf("train -backend cuda printed:\n%s", strings.Join(lines, "\n"))
	}
	for i, l := range lines[1:4] {
		if !epochLine.MatchString(l) {
			t.Errorf("epoch line %q", l)
		}
		if cpu := outs[0][i+1]; l[:strings.Index(l, " - test_acc")] != cpu[:strings.Index(cpu, " - test_acc")] {
			t.Logf("epoch %d: cuda %q, cpu %q", i+1, l, cpu)
		}
	}
	if lines[5] != outs[0][5] {
		t.Errorf("cuda ended with %q, cpu with %q", lines[5], outs[0][5])
	}
	code, out, errOut := runCmd("eval", "-backend", "cuda", "-load", model, "-data", data)
	if code != 0 || errOut != "" || !strings.HasSuffix(out, lines[5]+"\n") {
		t.Errorf("eval -backend cuda: exit %d, stdout %q, stderr %q; train ended with %q", code, out, errOut, lines[5])
	}
}
