package budgetcheck

import (
	"bytes"
	"html/template"
	"io"
)

// chart is one database's bar: demand against usable, in SVG units.
type chart struct {
	*Database
	Width                        int // of the drawing area
	UsableX, MaxX, DemandW       int
	DemandLabel, UsableLabel     string
	Color                        string
	Percent                      string
	HasLimit, DemandIsLowerBound bool
}

const chartWidth = 600

func newChart(d *Database) chart {
	c := chart{Database: d, Width: chartWidth, HasLimit: d.MaxConnections.State == Known}
	scale := max(d.WorstCase, d.MaxConnections.Value, d.Usable, 1)
	// In float64: a demand near MaxInt64 must not overflow the scaling.
	px := func(n int) int { return int(float64(max(0, n)) * chartWidth / float64(scale)) }
	c.UsableX, c.MaxX, c.DemandW = px(d.Usable), px(d.MaxConnections.Value), px(d.WorstCase)
	c.Percent = percent(d.WorstCase, d.Usable)
	c.DemandIsLowerBound = d.Verdict == VerdictUnbounded || d.Verdict == VerdictUnknown
	c.Color = verdictColor[d.Verdict]
	if c.Color == "" {
		c.Color = "#757575" // unknown
	}
	return c
}

var verdictColor = map[Verdict]string{VerdictOK: "#2e7d32", VerdictWarn: "#f9a825", VerdictOver: "#c62828", VerdictUnbounded: "#6a1b9a"}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>budgetcheck report</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
td:first-child,th:first-child{text-align:left}.db{margin-bottom:2em}.verdict{font-weight:bold}
.src{color:#666;font-size:12px}
</style></head>
<body>
<h1>Connection budget</h1>
<p>{{.Summary}}.</p>
{{range .Charts}}<section class="db" data-id="{{.ID}}" data-verdict="{{.Verdict}}">
<h2>{{.ID}} <small>({{.Kind}})</small> <span class="verdict" style="color:{{.Color}}">{{.Verdict}}</span></h2>
{{if .HasLimit}}<p>{{.UsableExplanation}}; worst case {{.WorstCase}}{{if .DemandIsLowerBound}} or more{{end}} ({{.Percent}} of usable)</p>
{{else}}<p>limit unknown ({{.MaxConnections.Source}}); known demand {{.WorstCase}}</p>{{end}}
<svg class="chart" role="img" width="{{.Width}}" height="56" viewBox="0 0 {{.Width}} 56" aria-label="demand {{.WorstCase}} vs usable {{.Usable}}">
<rect class="usable" x="0" y="4" width="{{.UsableX}}" height="20" fill="#cfd8dc"><title>usable {{.Usable}}</title></rect>
<rect class="demand" x="0" y="30" width="{{.DemandW}}" height="20" fill="{{.Color}}"><title>worst-case demand {{.WorstCase}}</title></rect>
{{if .HasLimit}}<line x1="{{.MaxX}}" x2="{{.MaxX}}" y1="0" y2="56" stroke="#000" stroke-dasharray="3"><title>max_connections {{.MaxConnections.Value}}</title></line>{{end}}
</svg>
<table><tr><th>client</th><th>pods</th><th>surge</th><th>processes</th><th>pool</th><th>demand</th><th title="{{$.Legend}}">suggested pool</th></tr>
{{range .Clients}}<tr><td>{{.ID}}<div class="src">via {{.Via}}; pool: {{.Pool.Source}}</div></td><td title="{{.Pods.Source}}">{{.Pods}}</td><td title="{{.Surge.Source}}">{{.Surge}}</td><td title="{{.Processes.Source}}">{{.Processes}}</td><td title="{{.Pool.Source}}">{{.Pool}}</td><td>{{.Demand}}</td><td>{{if .SuggestedPool}}{{.SuggestedPool}}{{else}}-{{end}}</td></tr>
{{end}}</table>
<p class="src">{{$.Legend}}</p>
{{range .Assumptions}}<p class="src">assumed: {{.}}</p>{{end}}
</section>
{{end}}<h2>Findings</h2>
<table class="findings"><tr><th>severity</th><th>check</th><th>where</th><th>message</th></tr>
{{range .Report.Findings}}<tr><td>{{.Severity}}</td><td>{{.Check}} {{.Name}}</td><td>{{.Location}}</td><td style="text-align:left">{{.Message}}{{if .Suggestion}}<div class="src">{{.Suggestion}}</div>{{end}}</td></tr>
{{end}}</table>
<script>
// Marks the page as rendered, with the number of charts the browser laid
// out, so that a headless browser test can tell the page works.
document.body.dataset.charts = String(document.querySelectorAll("svg.chart rect.demand").length);
</script>
</body></html>
`))

func writeHTML(w io.Writer, r *Report) error {
	data := struct {
		Report          *Report
		Charts          []chart
		Summary, Legend string
	}{Report: r, Legend: legend,
		Summary: plural(len(r.Databases), "database") + ", " + plural(len(r.Findings), "finding")}
	for _, d := range r.Databases {
		data.Charts = append(data.Charts, newChart(d))
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		return err
	}
	_, err := w.Write(escapeHTML(buf.Bytes()))
	return err
}
