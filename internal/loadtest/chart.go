package loadtest

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// chart is an inline SVG line chart: the HTML report draws its own so it
// needs no script, CDN or network.
type chart struct {
	Title, YUnit string
	Series       []series
	Marks        []mark // horizontal reference lines (SLOs)
	XTicks       []tick
	YTicks       []tick
	W, H         int
	Left, Bottom int // plot area origin (pixels)
	PlotW, PlotH int
}

type series struct {
	Name   string
	Color  string
	Points string // SVG polyline points
	Dash   bool
}

type mark struct {
	Name   string
	Y      float64
	Color  string
	LabelY float64
}

type tick struct {
	Pos   float64
	Label string
}

// line is a series' data before scaling.
type line struct {
	name string
	x, y []float64
	dash bool
}

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// newChart scales lines (x in seconds or a rate, y in yUnit) and marks to
// a 760x260 plot. NaN values are skipped.
func newChart(title, yUnit string, lines []line, marks map[string]float64) chart {
	c := chart{Title: title, YUnit: yUnit, W: 760, H: 260, Left: 60, Bottom: 230, PlotW: 680, PlotH: 200}
	xmax, ymax := 1.0, 0.0
	for _, l := range lines {
		for i := range l.x {
			if !math.IsNaN(l.y[i]) {
				xmax, ymax = math.Max(xmax, l.x[i]), math.Max(ymax, l.y[i])
			}
		}
	}
	for _, v := range marks {
		ymax = math.Max(ymax, v)
	}
	ymax = niceCeil(ymax * 1.05)
	sx := func(x float64) float64 { return float64(c.Left) + x/xmax*float64(c.PlotW) }
	sy := func(y float64) float64 { return float64(c.Bottom) - y/ymax*float64(c.PlotH) }
	for i, l := range lines {
		var b strings.Builder
		for j := range l.x {
			if math.IsNaN(l.y[j]) {
				continue
			}
			fmt.Fprintf(&b, "%.1f,%.1f ", sx(l.x[j]), sy(l.y[j]))
		}
		c.Series = append(c.Series, series{Name: l.name, Color: palette[i%len(palette)], Points: strings.TrimSpace(b.String()), Dash: l.dash})
	}
	i := 0
	for _, name := range slices.Sorted(maps.Keys(marks)) {
		y := sy(marks[name])
		c.Marks = append(c.Marks, mark{Name: name, Y: y, LabelY: y - 3, Color: palette[(len(lines)+i)%len(palette)]})
		i++
	}
	for k := 0; k <= 4; k++ {
		v := ymax * float64(k) / 4
		c.YTicks = append(c.YTicks, tick{Pos: sy(v), Label: strconv.FormatFloat(v, 'g', 4, 64)})
		x := xmax * float64(k) / 4
		c.XTicks = append(c.XTicks, tick{Pos: sx(x), Label: strconv.FormatFloat(x, 'g', 4, 64)})
	}
	return c
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for v <= 0).
func niceCeil(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
