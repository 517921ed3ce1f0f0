package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/gokernels/gemm/benchmarks
cpu: AMD EPYC
BenchmarkForward/net=784-100-50-10/N=50/strategy=rows/workers=1-2         	    1000	   1000000 ns/op	   1500 samples/s	       0 B/op	       0 allocs/op
BenchmarkForward/net=784-100-50-10/N=50/strategy=rows/workers=1-2         	    1000	   1000000 ns/op	   1700 samples/s	       0 B/op	       0 allocs/op
BenchmarkForward/net=784-100-50-10/N=50/strategy=rows/workers=1-2         	    1000	   1000000 ns/op	   1600 samples/s	       0 B/op	       0 allocs/op
BenchmarkForward/net=784-100-50-10/N=500/strategy=rows/workers=1-2        	    1000	   1000000 ns/op	   9000 samples/s	       0 B/op	       0 allocs/op
BenchmarkForward/net=784-100-50-10/N=50/strategy=rows/workers=2-2         	    1000	   1000000 ns/op	   2500 samples/s	       0 B/op	       0 allocs/op
BenchmarkForward/net=784-100-50-10/N=500/strategy=rows/workers=2-2        	    1000	   1000000 ns/op	  16000 samples/s	       0 B/op	       0 allocs/op
BenchmarkForward/net=784-100-50-10/N=50/strategy=cols/workers=10-2        	    1000	   1000000 ns/op	   2000 samples/s	       0 B/op	       0 allocs/op
BenchmarkSgemm/shape=64x64x64/strategy=rows/workers=1-2                   	    1000	      5000 ns/op	   100.0 GFLOP/s
PASS
`

func TestGroup(t *testing.T) {
	s := selector{bench: regexp.MustCompile("^Forward$"), x: "N", series: "workers", metric: "samples/s"}
	rs, err := s.read(strings.NewReader(sample), "sample")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 7 {
		t.Fatalf("read %d results, want 7 (the Sgemm line is not selected)", len(rs))
	}
	figs := s.group(rs)
	if len(figs) != 2 {
		t.Fatalf("%d figures, want 2 (rows, cols): %v", len(figs), figs)
	}
	f := figs[0]
	if f.title != "Forward/net=784-100-50-10/strategy=rows" {
		t.Fatalf("title %q", f.title)
	}
	if len(f.series) != 2 || f.series[0].name != "workers=1" || f.series[1].name != "workers=2" {
		t.Fatalf("series %+v", f.series)
	}
	// The median of 1500, 1700, 1600, and points sorted by N.
	if got := f.series[0].points; len(got) != 2 || got[0] != [2]float64{50, 1600} || got[1] != [2]float64{500, 9000} {
		t.Fatalf("workers=1 points %v", got)
	}
}

func TestNaturalOrder(t *testing.T) {
	s := selector{bench: regexp.MustCompile("Forward"), x: "N", series: "workers", metric: "samples/s"}
	in := strings.ReplaceAll(sample, "strategy=cols", "strategy=rows")
	rs, _ := s.read(strings.NewReader(in), "sample")
	f := s.group(rs)[0]
	var names []string
	for _, l := range f.series {
		names = append(names, l.name)
	}
	if got := strings.Join(names, ","); got != "workers=1,workers=2,workers=10" {
		t.Fatalf("series order %s, want numeric", got)
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "bench.txt")
	if err := os.WriteFile(in, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "figs")
	if code := run([]string{"-o", out, in}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, name := range []string{"Forward_net-784-100-50-10_strategy-rows.png", "Forward_net-784-100-50-10_strategy-rows.svg", "Forward_net-784-100-50-10_strategy-cols.png"} {
		st, err := os.Stat(filepath.Join(out, name))
		if err != nil || st.Size() < 1000 {
			t.Fatalf("%s: %v (size %v)", name, err, st)
		}
	}
	if n := strings.Count(stdout.String(), "\n"); n != 4 {
		t.Fatalf("printed %d paths, want 4:\n%s", n, stdout.String())
	}
	// No matching benchmark: one line, exit 1.
	stderr.Reset()
	if code := run([]string{"-bench", "Nothing", in}, nil, &stdout, &stderr); code != 1 || strings.Count(stderr.String(), "\n") != 1 {
		t.Fatalf("no match: exit %d, stderr %q", code, stderr.String())
	}
	// Bad flag: exit 2.
	if code := run([]string{"-bench", "("}, nil, &stdout, &stderr); code != 2 {
		t.Fatalf("bad regexp: exit %d", code)
	}
	// Missing file: exit 1.
	if code := run([]string{filepath.Join(dir, "missing.txt")}, nil, &stdout, &stderr); code != 1 {
		t.Fatalf("missing file: exit %d", code)
	}
}

func TestWinners(t *testing.T) {
	s := selector{bench: regexp.MustCompile("^Forward$"), x: "N", series: "workers", metric: "samples/s"}
	in := sample + "BenchmarkForward/net=784-100-50-10/N=50/strategy=auto/workers=2-2 1000 1000000 ns/op 2400 samples/s\n"
	rs, err := s.read(strings.NewReader(in), "sample")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := s.winners(&out, rs, "strategy"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Forward/net=784-100-50-10\n",
		"| 50 | rows, workers=2 | 2500 | workers=2 | 2400 | 0.96 |",
		"| 500 | rows, workers=2 | 16000 | — | — | — |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
