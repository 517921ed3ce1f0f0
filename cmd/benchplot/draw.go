package main

import (
	"fmt"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// save draws the figure and writes it as PNG and SVG into dir, returning
// the paths written.
func (f *figure) save(dir string) ([]string, error) {
	p := plot.New()
	p.Title.Text = f.title
	p.X.Label.Text = f.xLabel + " (log scale)"
	p.Y.Label.Text = f.yLabel
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	for i, l := range f.series {
		pts := make(plotter.XYs, len(l.points))
		for j, pt := range l.points {
			pts[j].X, pts[j].Y = pt[0], pt[1]
		}
		ln, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f.title, err)
		}
		ln.Color = plotutil.Color(i)
		ln.Dashes = plotutil.Dashes(i)
		sc.Color = plotutil.Color(i)
		sc.Shape = plotutil.Shape(i)
		p.Add(ln, sc)
		p.Legend.Add(l.name, ln, sc)
	}
	var paths []string
	for _, ext := range []string{".png", ".svg"} {
		path := filepath.Join(dir, f.file+ext)
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
