package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// selector says which results to plot and how.
type selector struct {
	bench     *regexp.Regexp // base names to keep
	x, series string         // name keys for the x axis and the lines
	metric    string         // unit of the y values
}

// result is one benchmark result reduced to what a figure needs.
type result struct {
	base   string            // base name, without "Benchmark"
	keys   map[string]string // name keys other than x and series
	order  []string          // those keys in name order
	x      float64
	series string
	value  float64
}

// read parses go test -bench output and keeps the selected results.
func (s selector) read(r io.Reader, name string) ([]result, error) {
	var out []result
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		rec, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // units, syntax errors in other lines: not ours
		}
		if res, ok := s.convert(rec); ok {
			out = append(out, res)
		}
	}
	return out, br.Err()
}

// convert picks the name keys and the metric out of one result.
func (s selector) convert(rec *benchfmt.Result) (result, bool) {
	base, parts := rec.Name.Parts()
	res := result{base: strings.TrimPrefix(string(base), "Benchmark"), keys: map[string]string{}}
	if !s.bench.MatchString(res.base) {
		return res, false
	}
	haveX, haveSeries := false, false
	for _, p := range parts {
		k, v, ok := strings.Cut(strings.TrimPrefix(string(p), "/"), "=")
		if !ok || !strings.HasPrefix(string(p), "/") {
			continue // GOMAXPROCS suffix or a positional part
		}
		switch k {
		case s.x:
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return res, false
			}
			res.x, haveX = x, true
		case s.series:
			res.series, haveSeries = v, true
		default:
			res.keys[k] = v
			res.order = append(res.order, k)
		}
	}
	for _, v := range rec.Values {
		if v.Unit == s.metric || v.OrigUnit == s.metric {
			res.value = v.Value
			if v.OrigUnit == s.metric {
				res.value = v.OrigValue
			}
			return res, haveX && haveSeries
		}
	}
	return res, false
}

// figure is one plot: lines of (x, median value) points, one per series.
type figure struct {
	title  string
	file   string
	xLabel string
	yLabel string
	series []line
}

type line struct {
	name   string
	points [][2]float64 // sorted by x
}

// group gathers the results into figures, one per base name and
// combination of the other keys, taking the median of repeated results.
func (s selector) group(rs []result) []*figure {
	type pointKey struct {
		series string
		x      float64
	}
	byFig := map[string]*figure{}
	samples := map[string]map[pointKey][]float64{}
	var order []string
	for _, r := range rs {
		id := r.base
		for _, k := range r.order {
			id += "/" + k + "=" + r.keys[k]
		}
		f, ok := byFig[id]
		if !ok {
			f = &figure{
				title:  id,
				file:   strings.NewReplacer("/", "_", "=", "-").Replace(id),
				xLabel: s.x,
				yLabel: s.metric,
			}
			byFig[id] = f
			samples[id] = map[pointKey][]float64{}
			order = append(order, id)
		}
		pk := pointKey{r.series, r.x}
		samples[id][pk] = append(samples[id][pk], r.value)
	}
	var figs []*figure
	for _, id := range order {
		f := byFig[id]
		lines := map[string]*line{}
		for pk, vs := range samples[id] {
			l, ok := lines[pk.series]
			if !ok {
				l = &line{name: s.series + "=" + pk.series}
				lines[pk.series] = l
			}
			l.points = append(l.points, [2]float64{pk.x, median(vs)})
		}
		names := make([]string, 0, len(lines))
		for n := range lines {
			names = append(names, n)
		}
		slices.SortFunc(names, compareNatural)
		for _, n := range names {
			l := lines[n]
			slices.SortFunc(l.points, func(a, b [2]float64) int { return compareFloat(a[0], b[0]) })
			f.series = append(f.series, *l)
		}
		figs = append(figs, f)
	}
	return figs
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareNatural orders numbers numerically and other strings by text.
func compareNatural(a, b string) int {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 == nil && err2 == nil {
		return compareFloat(x, y)
	}
	return strings.Compare(a, b)
}

func (f *figure) String() string {
	return fmt.Sprintf("%s: %d lines", f.title, len(f.series))
}
