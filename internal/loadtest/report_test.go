package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// reportRun is a small ramp with a scraper, thresholds and a knee: every
// part of the reports has data.
func reportRun(t *testing.T) *Result {
	t.Helper()
	var scrapes atomic.Int64
	mux := http.NewServeMux()
	mux.Handle("/api", limited(2, 20, 10*time.Millisecond))
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		if scrapes.Add(1)%3 == 0 {
			http.Error(w, "scrape refused", http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]map[string]int{"conns": {"primary": 3, "replica1": 2}})
	})
	url := serve(t, mux.ServeHTTP)
	sched, err := Ramp(50, 350, 150, time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	parse := func(body []byte) (map[string]float64, error) {
		var v struct{ Conns map[string]float64 }
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, err
		}
		out := map[string]float64{}
		for node, n := range v.Conns {
			out["conns "+node] = n
		}
		return out, nil
	}
	ep := get("api", "/api", 1)
	ep.SLO = SLO{P95: 50 * time.Millisecond, P99: 100 * time.Millisecond}
	r := run(t, Scenario{
		BaseURL: url, Endpoints: []Endpoint{ep}, Schedule: sched,
		Scrape: HTTPScraper(nil, url+"/stats", parse),
	})
	r.Check(Thresholds{{Endpoint: "api", Metric: "shed_rate", Op: "<", Value: 0.5}, {Endpoint: "all", Metric: "p99", Op: "<", Value: 0.001}})
	if _, err := Knee(r, "api", ep.SLO); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReports(t *testing.T) {
	t.Parallel()
	r := reportRun(t)
	// Every third scrape is refused; on a busy machine a scrape may also
	// time out: both are failures, recorded, not fatal.
	if len(r.Scrapes.Samples) < 1 || r.Scrapes.Failures < 1 || r.Scrapes.LastError == "" {
		t.Fatalf("scrapes: %d samples, %d failures (%q); want both", len(r.Scrapes.Samples), r.Scrapes.Failures, r.Scrapes.LastError)
	}
	if _, v := r.Scrapes.Series("conns primary"); len(v) == 0 || v[0] != 3 {
		t.Fatalf("conns primary: %v", v)
	}

	var text bytes.Buffer
	if err := r.WriteText(&text, Extra{"queries per request", "3.0"}); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + text.String())
	for _, want := range []string{"endpoint", "api", "all", "/100ms", "arrivals: 700 of 700 sent",
		"scrapes:", "conns primary: last 3", "(drop)", "knee of api:", "recovery:", "queries per request: 3.0",
		"thresholds: FAIL, 1 of 2 crossed", "all: p99<1ms crossed"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q", want)
		}
	}

	var page bytes.Buffer
	if err := r.WriteHTML(&page, Extra{"replica share of reads", "92%"}); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("LOADTEST_REPORT_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, "report.html"), page.Bytes(), 0o644)
	}
	doc := parseXHTML(t, page.Bytes())
	for _, want := range []string{"api p50", "api p95", "api p99", "all p99", "sent", "shed 503", "conns primary", "conns replica1", "p99 ms", "shed %"} {
		if n := doc.series[want]; n < 2 {
			t.Errorf("series %q has %d points, want a line", want, n)
		}
	}
	if doc.marks["SLO p99"] == 0 {
		t.Errorf("no SLO line: %v", doc.marks)
	}
	if !strings.Contains(doc.text, "FAIL") || !strings.Contains(doc.text, "PASS") || !strings.Contains(doc.text, "92%") {
		t.Errorf("verdicts or extra missing from the page")
	}
	for _, bad := range []string{"ZgotmplZ", "<script", "src=", "href=", "@import", "url("} {
		if bytes.Contains(page.Bytes(), []byte(bad)) {
			t.Errorf("page contains %q: not self-contained or a template escaping failure", bad)
		}
	}
}

type xhtml struct {
	series map[string]int // data-series -> points
	marks  map[string]int
	text   string
}

// parseXHTML parses the page strictly as XML (every element closed,
// attributes quoted, entities valid) and collects the SVG series.
func parseXHTML(t *testing.T, page []byte) xhtml {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	doc := xhtml{series: map[string]int{}, marks: map[string]int{}}
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("HTML report is not well-formed: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			attrs := map[string]string{}
			for _, a := range el.Attr {
				attrs[a.Name.Local] = a.Value
			}
			if s, ok := attrs["data-series"]; ok {
				doc.series[s] = len(strings.Fields(attrs["points"]))
			}
			if m, ok := attrs["data-mark"]; ok {
				doc.marks[m]++
			}
		case xml.CharData:
			text.Write(el)
		}
	}
	doc.text = text.String()
	return doc
}

func TestRunBadInput(t *testing.T) {
	t.Parallel()
	ok := get("api", "/", 1)
	for name, s := range map[string]Scenario{
		"no url":       {Endpoints: []Endpoint{ok}, Schedule: Constant(1, time.Second)},
		"bad url":      {BaseURL: "127.0.0.1:8080", Endpoints: []Endpoint{ok}, Schedule: Constant(1, time.Second)},
		"no endpoints": {BaseURL: "http://x", Schedule: Constant(1, time.Second)},
		"reserved":     {BaseURL: "http://x", Endpoints: []Endpoint{get("all", "/", 1)}, Schedule: Constant(1, time.Second)},
		"twice":        {BaseURL: "http://x", Endpoints: []Endpoint{ok, ok}, Schedule: Constant(1, time.Second)},
		"colon":        {BaseURL: "http://x", Endpoints: []Endpoint{get("a:b", "/", 1)}, Schedule: Constant(1, time.Second)},
		"weight":       {BaseURL: "http://x", Endpoints: []Endpoint{get("api", "/", 0)}, Schedule: Constant(1, time.Second)},
		"no build":     {BaseURL: "http://x", Endpoints: []Endpoint{{Name: "api", Weight: 1}}, Schedule: Constant(1, time.Second)},
		"no schedule":  {BaseURL: "http://x", Endpoints: []Endpoint{ok}},
		"zero rate":    {BaseURL: "http://x", Endpoints: []Endpoint{ok}, Schedule: Constant(0, time.Second)},
		"short stage":  {BaseURL: "http://x", Endpoints: []Endpoint{ok}, Schedule: Constant(1, time.Millisecond)},
		"too long":     {BaseURL: "http://x", Endpoints: []Endpoint{ok}, Schedule: Constant(1, 3*time.Hour)},
		"hot id":       {BaseURL: "http://x", Endpoints: []Endpoint{ok}, Schedule: Constant(1, time.Second), Users: Users{Count: 10, Hot: []int{11}}},
		"hot share":    {BaseURL: "http://x", Endpoints: []Endpoint{ok}, Schedule: Constant(1, time.Second), Users: Users{HotShare: 2}},
		"timeout":      {BaseURL: "http://x", Endpoints: []Endpoint{ok}, Schedule: Constant(1, time.Second), Timeout: -1},
	} {
		_, err := Run(context.Background(), s, nil)
		if err == nil || !strings.HasPrefix(err.Error(), "loadtest: ") {
			t.Errorf("%s: %v, want a loadtest: error", name, err)
		}
	}
}

// A request that cannot even be built is an error of the aggregate, not
// a request that vanished.
func TestUnbuildableRequestIsAnError(t *testing.T) {
	t.Parallel()
	url := serve(t, func(http.ResponseWriter, *http.Request) {})
	r := run(t, Scenario{BaseURL: url, Endpoints: []Endpoint{get("bad", "/%zz", 1)}, Schedule: Constant(10, time.Second)})
	if r.Unattributed != 10 || r.All.Total.TransportErrors != 10 || r.All.Total.ErrorRate() != 1 {
		t.Fatalf("unattributed %d, all %+v", r.Unattributed, r.All.Total.Counts)
	}
	if v := r.Check(Thresholds{{Endpoint: "all", Metric: "error_rate", Op: "<", Value: 0.01}}); len(v) != 1 {
		t.Fatalf("violations %v, want the error rate crossed", v)
	}
}

// Cancelling the context stops new arrivals; Run returns what it measured.
func TestRunCancelled(t *testing.T) {
	t.Parallel()
	var seen atomic.Uint64
	url := serve(t, func(http.ResponseWriter, *http.Request) { seen.Add(1) })
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	r, err := Run(ctx, Scenario{BaseURL: url, Endpoints: []Endpoint{get("api", "/", 1)}, Schedule: Constant(100, time.Minute)}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || r == nil {
		t.Fatalf("Run: %v, %v", r, err)
	}
	// Requests in flight finish: every request the server saw is
	// recorded, and answered.
	tot := r.All.Total
	if tot.Sent == 0 || tot.Sent >= r.Schedule.Arrivals()/2 || tot.Sent != seen.Load() || tot.OK != tot.Sent {
		t.Fatalf("sent %d of %d, server saw %d, %d OK", tot.Sent, r.Schedule.Arrivals(), seen.Load(), tot.OK)
	}
}
