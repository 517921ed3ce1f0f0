// Command benchplot draws figures from `go test -bench` output: a metric
// against one key of the benchmark names (the batch size N by default), one
// line per value of another key (the worker count by default), one figure
// per combination of the remaining keys. It writes each figure as PNG and
// SVG.
//
// Usage:
//
//	go test -run='^$' -bench=Forward -count=5 ./benchmarks > bench.txt
//	go run ./cmd/benchplot -o docs/figures bench.txt
//
// Repeated results of one benchmark are reduced to their median. With
// -table strategy it prints, instead of figures, a Markdown table per
// network of the strategy and worker count that win at each batch size.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchplot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "figures", "directory for the figures")
	bench := fs.String("bench", "^Forward$", "regexp selecting benchmarks by base name (without the Benchmark prefix)")
	xKey := fs.String("x", "N", "name key plotted along the x axis (numeric)")
	seriesKey := fs.String("series", "workers", "name key with one line per value")
	metric := fs.String("metric", "samples/s", "unit of the value plotted on the y axis")
	table := fs.String("table", "", "instead of figures, print Markdown tables of the best value of this key (e.g. strategy) and of -series at each x")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: benchplot [flags] [bench.txt ...]\n\nReads go test -bench output (standard input when no file is named) and\nwrites one PNG and one SVG figure per group of benchmarks.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	re, err := regexp.Compile(*bench)
	if err != nil {
		fmt.Fprintf(stderr, "benchplot: -bench: %v\n", err)
		return 2
	}
	sel := selector{bench: re, x: *xKey, series: *seriesKey, metric: *metric}
	var results []result
	if fs.NArg() == 0 {
		results, err = sel.read(stdin, "stdin")
	} else {
		for _, name := range fs.Args() {
			f, err2 := os.Open(name)
			if err2 != nil {
				err = err2
				break
			}
			rs, err2 := sel.read(f, name)
			f.Close()
			if err2 != nil {
				err = err2
				break
			}
			results = append(results, rs...)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "benchplot: %v\n", err)
		return 1
	}
	if len(results) == 0 {
		fmt.Fprintf(stderr, "benchplot: no benchmark matches -bench %q with keys %s= and %s= and unit %s\n", *bench, *xKey, *seriesKey, *metric)
		return 1
	}
	if *table != "" {
		if err := sel.winners(stdout, results, *table); err != nil {
			fmt.Fprintf(stderr, "benchplot: %v\n", err)
			return 1
		}
		return 0
	}
	figs := sel.group(results)
	if len(figs) == 0 {
		fmt.Fprintf(stderr, "benchplot: no benchmark matches -bench %q with keys %s= and %s= and unit %s\n", *bench, *xKey, *seriesKey, *metric)
		return 1
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "benchplot: %v\n", err)
		return 1
	}
	for _, f := range figs {
		paths, err := f.save(*out)
		if err != nil {
			fmt.Fprintf(stderr, "benchplot: %v\n", err)
			return 1
		}
		for _, p := range paths {
			fmt.Fprintln(stdout, p)
		}
	}
	return 0
}
