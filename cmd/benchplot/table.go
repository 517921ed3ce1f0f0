package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// winners prints, as a Markdown table per group, which value of key and
// of the series key gives the highest median at each x, and how close the
// value auto (of key) comes.
func (s selector) winners(w io.Writer, rs []result, key string) error {
	groups := map[string]map[cell][]float64{}
	var order []string
	for _, r := range rs {
		id := r.base
		for _, k := range r.order {
			if k != key {
				id += "/" + k + "=" + r.keys[k]
			}
		}
		g, ok := groups[id]
		if !ok {
			g = map[cell][]float64{}
			groups[id] = g
			order = append(order, id)
		}
		c := cell{r.x, r.keys[key], r.series}
		g[c] = append(g[c], r.value)
	}
	for _, id := range order {
		g := groups[id]
		var xs []float64
		for c := range g {
			if !slices.Contains(xs, c.x) {
				xs = append(xs, c.x)
			}
		}
		slices.Sort(xs)
		fmt.Fprintf(w, "\n%s\n\n", id)
		fmt.Fprintf(w, "| %s | best %s, %s | %s | auto, best %s | %s | auto / best |\n", s.x, key, s.series, s.metric, s.series, s.metric)
		fmt.Fprintf(w, "|---|---|---|---|---|---|\n")
		for _, x := range xs {
			var best, bestAuto cell
			bv, av := -1.0, -1.0
			for c, vs := range g {
				if c.x != x {
					continue
				}
				v := median(vs)
				if v > bv || v == bv && less(c, best) {
					best, bv = c, v
				}
				if c.choice == "auto" && (v > av || v == av && less(c, bestAuto)) {
					bestAuto, av = c, v
				}
			}
			auto, ratio := "—", "—"
			if av >= 0 {
				auto = fmt.Sprintf("%s=%s | %s", s.series, bestAuto.series, format(av))
				ratio = fmt.Sprintf("%.2f", av/bv)
			} else {
				auto += " | —"
			}
			fmt.Fprintf(w, "| %s | %s, %s=%s | %s | %s | %s |\n", strconv.FormatFloat(x, 'f', -1, 64), best.choice, s.series, best.series, format(bv), auto, ratio)
		}
	}
	return nil
}

// cell is one point of a winners table: an x, a value of the compared
// key and a series.
type cell struct {
	x      float64
	choice string
	series string
}

// less orders cells by choice and then by numeric series, so that ties
// resolve the same way every run.
func less(a, b cell) bool {
	if a.choice != b.choice {
		return a.choice < b.choice
	}
	return compareNatural(a.series, b.series) < 0
}

// format prints a metric with three significant digits at most after
// rounding, without exponent.
func format(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strings.TrimRight(strconv.FormatFloat(v, 'f', 2, 64), "0")
}
