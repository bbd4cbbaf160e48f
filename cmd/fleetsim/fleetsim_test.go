package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestScheduleScalesUpAndDown(t *testing.T) {
	o := options{minPods: 3, maxPods: 60}
	for _, tc := range []struct {
		f    float64
		want int
	}{{0, 3}, {0.05, 3}, {0.10, 3}, {0.275, 32}, {0.45, 60}, {0.5, 60}, {0.75, 32}, {0.9, 3}, {0.99, 3}} {
		if got := o.podsAt(tc.f); got != tc.want {
			t.Errorf("podsAt(%g) = %d, want %d", tc.f, got, tc.want)
		}
	}
}

func TestCountsRoundTrip(t *testing.T) {
	var b bytes.Buffer
	in := counts{ok: 3, shed: 1, full: 2, other: 4, lat: []time.Duration{1500 * time.Microsecond, 20 * time.Millisecond}}
	writeCounts(&b, in)
	got, ok := parseCounts(strings.TrimSpace(b.String()))
	if !ok || got.ok != 3 || got.shed != 1 || got.full != 2 || got.other != 4 || len(got.lat) != 2 || got.lat[1] != 20*time.Millisecond {
		t.Fatalf("parseCounts(%q) = %+v, %v", b.String(), got, ok)
	}
	for _, bad := range []string{"", "s 1 2", "x 1 2 3 4", "s 1 2 3 four"} {
		if _, ok := parseCounts(bad); ok {
			t.Errorf("parseCounts(%q) accepted", bad)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	good := options{duration: time.Minute, rate: 300, minPods: 3, maxPods: 60, pool: 10, maxConns: 100, killAt: 0.5}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for _, mutate := range []func(*options){
		func(o *options) { o.duration = time.Second },
		func(o *options) { o.rate = 0 },
		func(o *options) { o.minPods = 1 },
		func(o *options) { o.maxPods = 2 },
		func(o *options) { o.killAt = 1 },
		func(o *options) { o.quota = -1 },
	} {
		o := good
		mutate(&o)
		if err := o.validate(); err == nil || !strings.HasPrefix(err.Error(), "fleetsim: ") {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// The chart and the CSV carry both modes, the max_connections line and the
// seconds with 53300 errors.
func TestReportOutputs(t *testing.T) {
	mk := func(mode string, conns, full int) *modeResult {
		r := &modeResult{Mode: mode, MaxConnections: 100, PeakConnections: conns, Errors53300: full}
		for i := range 3 {
			r.Seconds = append(r.Seconds, &second{T: i, Pods: 3 + i, Connections: conns, Errors53300: full})
		}
		return r
	}
	results := []*modeResult{mk("naive", 99, 7), mk("budgeted", 60, 0)}
	svg := string(svgOf(results))
	for _, want := range []string{"max_connections 100", "naive: peak 99 connections, 7 errors 53300", "budgeted: peak 60 connections, 0 errors 53300", "<title>7 errors 53300</title>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
	if strings.Count(svg, "<title>") != 3 {
		t.Errorf("want 3 marked seconds (naive only), got %d", strings.Count(svg, "<title>"))
	}
	csv := string(csvOf(results))
	if lines := strings.Count(csv, "\n"); lines != 7 || !strings.Contains(csv, "budgeted,2,5,60,100,") {
		t.Errorf("csv:\n%s", csv)
	}
}
