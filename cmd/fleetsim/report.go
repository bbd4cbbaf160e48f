package main

import (
	"bytes"
	"fmt"
	"html"
)

// csvOf writes one row per mode and second.
func csvOf(results []*modeResult) []byte {
	var b bytes.Buffer
	b.WriteString("mode,t_s,pods,connections,max_connections,requests,ok,errors_53300,shed,other,p50_ms,p95_ms,p99_ms\n")
	for _, r := range results {
		for _, s := range r.Seconds {
			fmt.Fprintf(&b, "%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%g,%g,%g\n", r.Mode, s.T, s.Pods, s.Connections, r.MaxConnections,
				s.Requests, s.OK, s.Errors53300, s.Shed, s.Other, s.P50, s.P95, s.P99)
		}
	}
	return b.Bytes()
}

// svgOf draws, for every mode, the fleet's connections per second against
// the max_connections and usable lines, with the pod count on a second
// scale and the seconds with 53300 errors marked.
func svgOf(results []*modeResult) []byte {
	const w, h, left, right, top, bottom = 900, 440, 60, 60, 75, 30
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	nsec, ymax, pmax := 1, 10, 1
	for _, r := range results {
		nsec = max(nsec, len(r.Seconds)-1)
		ymax = max(ymax, r.MaxConnections, r.PeakConnections)
		for _, s := range r.Seconds {
			pmax = max(pmax, s.Pods)
		}
	}
	ymax = (ymax/50 + 1) * 50
	x := func(t int) float64 { return left + pw*float64(t)/float64(nsec) }
	y := func(v int) float64 { return top + ph - ph*float64(v)/float64(ymax) }
	yp := func(v int) float64 { return top + ph - ph*float64(v)/float64(pmax) }
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">fleetsim: connections on the server per second (left), pods (right, dotted)</text>`+"\n", left)
	// Axes and grid.
	for v := 0; v <= ymax; v += 50 {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%d</text>`+"\n", left, w-right, y(v), y(v), left-6, y(v)+4, v)
	}
	for t := 0; t <= nsec; t += 10 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%ds</text>`+"\n", x(t), h-bottom+18, t)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%.1f">pods %d</text>`+"\n", w-right+6, yp(pmax)+4, pmax)
	colors := map[string]string{"naive": "#d62728", "budgeted": "#1f77b4"}
	legendY := 40
	legendX := left
	if len(results) > 0 {
		r := results[0]
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="black" stroke-width="2" stroke-dasharray="6 3"/>`, left, w-right, y(r.MaxConnections), y(r.MaxConnections))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f">max_connections %d</text>`+"\n", left+4, y(r.MaxConnections)-4, r.MaxConnections)
	}
	for _, r := range results {
		c := colors[r.Mode]
		var pts, pods bytes.Buffer
		for _, s := range r.Seconds {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(s.T), y(s.Connections))
			fmt.Fprintf(&pods, "%.1f,%.1f ", x(s.T), yp(s.Pods))
			if s.Errors53300 > 0 {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%d errors 53300</title></circle>`+"\n", x(s.T), y(s.Connections), c, s.Errors53300)
			}
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, pts.String())
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1" stroke-dasharray="2 3" points="%s"/>`+"\n", c, pods.String())
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s: peak %d connections, %d errors 53300, %d shed, p99 %g ms (dots: seconds with 53300)</text>`+"\n",
			legendX, legendY-10, c, legendX+16, legendY, html.EscapeString(r.Mode), r.PeakConnections, r.Errors53300, r.Shed, r.P99ms)
		legendY += 16
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
