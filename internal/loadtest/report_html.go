package loadtest

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// WriteHTML writes a self-contained HTML report (inline SVG, no script, no
// network): admitted latency percentiles per endpoint over time against
// the SLOs, arrivals and outcomes per second, scraped series (connections
// in use per node), the stages of a ramp with P99 and shed share per step
// and the knee, the threshold verdicts, and the caller's extra lines. The
// text report's table heads it.
func (r *Result) WriteHTML(w io.Writer, extra ...Extra) error {
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		return err
	}
	d := htmlData{Title: "loadtest " + r.BaseURL, Text: text.String(), Extra: extra}
	for _, e := range append(r.Endpoints, r.All) {
		d.Charts = append(d.Charts, latencyChart(e))
	}
	d.Charts = append(d.Charts, outcomesChart(r.All))
	if len(r.Scrapes.Names) > 0 {
		d.Charts = append(d.Charts, scrapeChart(r.Scrapes))
	}
	if len(r.Schedule.Stages) > 1 {
		d.Charts = append(d.Charts, rampChart(r))
	}
	for _, t := range r.Thresholds {
		v, bad := r.check(t)
		detail := v.observed()
		if bad {
			detail = v.String()
		}
		d.Verdicts = append(d.Verdicts, verdict{Threshold: t.String(), Pass: !bad, Detail: detail})
	}
	return htmlReport.Execute(w, d)
}

type htmlData struct {
	Title    string
	Text     string
	Charts   []chart
	Verdicts []verdict
	Extra    []Extra
}

type verdict struct {
	Threshold, Detail string
	Pass              bool
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// latencyChart is P50/P95/P99 of admitted requests per send second.
func latencyChart(e EndpointResult) chart {
	var x, p50, p95, p99 []float64
	for _, w := range e.Windows {
		x = append(x, (w.Start + w.Duration).Seconds())
		if w.Admitted == 0 {
			p50, p95, p99 = append(p50, math.NaN()), append(p95, math.NaN()), append(p99, math.NaN())
			continue
		}
		p50, p95, p99 = append(p50, ms(w.P50)), append(p95, ms(w.P95)), append(p99, ms(w.P99))
	}
	marks := map[string]float64{}
	if e.SLO.P95 > 0 {
		marks["SLO p95"] = ms(e.SLO.P95)
	}
	if e.SLO.P99 > 0 {
		marks["SLO p99"] = ms(e.SLO.P99)
	}
	return newChart("latency of "+e.Name+" (admitted, by second sent)", "ms", []line{
		{name: e.Name + " p50", x: x, y: p50},
		{name: e.Name + " p95", x: x, y: p95},
		{name: e.Name + " p99", x: x, y: p99},
	}, marks)
}

// outcomesChart is arrivals, answers, sheds and errors per second.
func outcomesChart(e EndpointResult) chart {
	var x, sent, ok, shed, errs []float64
	for _, w := range e.Windows {
		x = append(x, (w.Start + w.Duration).Seconds())
		sec := w.Duration.Seconds()
		sent = append(sent, float64(w.Sent)/sec)
		ok = append(ok, float64(w.OK)/sec)
		shed = append(shed, float64(w.Shed)/sec)
		errs = append(errs, float64(w.Errors())/sec)
	}
	return newChart("requests per second (all endpoints, by second sent)", "req/s", []line{
		{name: "sent", x: x, y: sent},
		{name: "2xx", x: x, y: ok},
		{name: "shed 503", x: x, y: shed},
		{name: "errors", x: x, y: errs},
	}, nil)
}

// scrapeChart is every scraped series over time.
func scrapeChart(s Scrapes) chart {
	var lines []line
	for _, name := range s.Names {
		at, v := s.Series(name)
		l := line{name: name, y: v}
		for _, a := range at {
			l.x = append(l.x, a.Seconds())
		}
		lines = append(lines, l)
	}
	return newChart("scraped from the service (connections in use per node)", "", lines, nil)
}

// rampChart is, per stage, the arrival rate and P99 and shed share.
func rampChart(r *Result) chart {
	var x, p99, shed, rate []float64
	var hi float64
	for i, st := range r.All.Stages {
		x = append(x, (st.Start + st.Duration).Seconds())
		p99 = append(p99, ms(st.P99))
		shed = append(shed, 100*st.ShedRate())
		rate = append(rate, r.Schedule.Stages[i].Rate)
		hi = max(hi, r.Schedule.Stages[i].Rate)
	}
	// One axis: the rate is scaled to the P99's range, named with its
	// peak so it can be read.
	top := 1.0
	for _, v := range p99 {
		top = max(top, v)
	}
	for i := range rate {
		rate[i] = rate[i] / max(hi, 1) * top
	}
	return newChart("ramp: p99 (ms) and shed (%) per stage (all endpoints)", "ms / %", []line{
		{name: "p99 ms", x: x, y: p99},
		{name: "shed %", x: x, y: shed},
		{name: fmt.Sprintf("arrival rate (peak %.0f/s = top)", hi), x: x, y: rate, dash: true},
	}, nil)
}

var htmlReport = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
.pass { color: #2ca02c; font-weight: bold; }
.fail { color: #d62728; font-weight: bold; }
svg { display: block; margin: 1em 0 0 0; }
.legend { font-size: 0.8em; margin: 0 0 1.5em 0; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<pre>{{.Text}}</pre>
{{if .Verdicts}}<h2>Thresholds</h2>
<table id="thresholds">
<tr><th>threshold</th><th>verdict</th><th>observed</th></tr>
{{range .Verdicts}}<tr><td>{{.Threshold}}</td>{{if .Pass}}<td class="pass">PASS</td>{{else}}<td class="fail">FAIL</td>{{end}}<td>{{.Detail}}</td></tr>
{{end}}</table>
{{end}}{{if .Extra}}<h2>From the service</h2>
<table id="extra">
{{range .Extra}}<tr><th>{{.Label}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{end}}<h2>Over time</h2>
{{range .Charts}}<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img">
<title>{{.Title}}</title>
<text x="{{.Left}}" y="14" font-size="13" font-weight="bold">{{.Title}}</text>
<line x1="{{.Left}}" y1="{{.Bottom}}" x2="{{.Left}}" y2="30" stroke="#888"/>
<line x1="{{.Left}}" y1="{{.Bottom}}" x2="740" y2="{{.Bottom}}" stroke="#888"/>
{{$c := .}}{{range .YTicks}}<text x="{{$c.Left}}" y="{{.Pos}}" dx="-4" font-size="10" text-anchor="end">{{.Label}}</text>
{{end}}{{range .XTicks}}<text x="{{.Pos}}" y="{{$c.Bottom}}" dy="14" font-size="10" text-anchor="middle">{{.Label}}</text>
{{end}}<text x="740" y="{{$c.Bottom}}" dy="26" font-size="10" text-anchor="end">seconds</text>
<text x="4" y="14" font-size="10">{{.YUnit}}</text>
{{range .Marks}}<line x1="{{$c.Left}}" y1="{{.Y}}" x2="740" y2="{{.Y}}" stroke="{{.Color}}" stroke-dasharray="2,4" data-mark="{{.Name}}"/>
<text x="740" y="{{.LabelY}}" font-size="10" text-anchor="end" fill="{{.Color}}">{{.Name}}</text>
{{end}}{{range .Series}}<polyline fill="none" stroke="{{.Color}}" stroke-width="1.5"{{if .Dash}} stroke-dasharray="5,3"{{end}} points="{{.Points}}" data-series="{{.Name}}"/>
{{end}}</svg>
<p class="legend">{{range .Series}}<span style="color: {{.Color}}">&#9632; {{.Name}}</span> {{end}}</p>
{{end}}</body>
</html>
`))
