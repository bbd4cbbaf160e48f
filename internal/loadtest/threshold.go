package loadtest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Threshold is one pass/fail criterion on an endpoint, like a k6
// `thresholds` entry: "list: p95<150ms" or "create: error_rate<1%".
type Threshold struct {
	Endpoint string // an endpoint's name, or [AllEndpoints] ("*" is accepted)
	Metric   string // see [ParseThresholds] for the list
	Op       string // "<", "<=", ">", ">="
	// Value is in the metric's unit: seconds for latencies, a fraction
	// (0.01 = 1%) for rates, requests per second for throughput, a count
	// for errors.
	Value float64
}

// Thresholds is a list of thresholds; a run passes when none is crossed.
type Thresholds []Threshold

// metric is how a threshold metric reads an endpoint's totals.
type metric struct {
	kind  metricKind
	value func(Stats) float64
}

type metricKind int

const (
	kindLatency metricKind = iota // Value in seconds; needs admitted samples
	kindRate                      // fraction of sent
	kindThroughput
	kindCount
)

func lat(f func(Stats) time.Duration) metric {
	return metric{kindLatency, func(s Stats) float64 { return f(s).Seconds() }}
}

// metrics are the threshold metrics: admitted latency percentiles, rates
// of errors and sheds (of sent requests), answered throughput (req/s),
// the error count and the watched count.
var metrics = map[string]metric{
	"p50":        lat(func(s Stats) time.Duration { return s.P50 }),
	"p90":        lat(func(s Stats) time.Duration { return s.P90 }),
	"p95":        lat(func(s Stats) time.Duration { return s.P95 }),
	"p99":        lat(func(s Stats) time.Duration { return s.P99 }),
	"p99.9":      lat(func(s Stats) time.Duration { return s.P999 }),
	"max":        lat(func(s Stats) time.Duration { return s.Max }),
	"mean":       lat(func(s Stats) time.Duration { return s.Mean }),
	"error_rate": {kindRate, func(s Stats) float64 { return s.ErrorRate() }},
	"shed_rate":  {kindRate, func(s Stats) float64 { return s.ShedRate() }},
	"throughput": {kindThroughput, func(s Stats) float64 { return s.Throughput() }},
	"errors":     {kindCount, func(s Stats) float64 { return float64(s.Errors()) }},
	"watched":    {kindCount, func(s Stats) float64 { return float64(s.Watched) }},
}

var ops = []string{"<=", ">=", "<", ">"} // two-character ones first

// ParseThresholds parses the compact form: groups "endpoint: criterion,
// criterion" separated by ';' or newlines, e.g.
//
//	list: p95<150ms, p99<400ms; create: error_rate<1%; all: shed_rate<=5%
//
// Metrics: p50, p90, p95, p99, p99.9, max, mean (admitted latency, a
// duration), error_rate and shed_rate (of sent requests: "1%" or 0.01),
// throughput (answered per second), errors and watched (counts; watched
// is answers containing Scenario.WatchFor). Operators: <, <=,
// >, >=. The endpoint "all" (or "*") is the aggregate.
func ParseThresholds(s string) (Thresholds, error) {
	var th Thresholds
	for _, group := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		group = strings.TrimSpace(group)
		if group == "" {
			continue
		}
		ep, conds, ok := strings.Cut(group, ":")
		ep = strings.TrimSpace(ep)
		if !ok || ep == "" {
			return nil, fmt.Errorf("loadtest: threshold %q: want \"endpoint: metric<value, ...\"", group)
		}
		if ep == "*" {
			ep = AllEndpoints
		}
		for _, c := range strings.Split(conds, ",") {
			t, err := parseThreshold(ep, strings.TrimSpace(c))
			if err != nil {
				return nil, err
			}
			th = append(th, t)
		}
	}
	if len(th) == 0 {
		return nil, errors.New("loadtest: no thresholds in the string (want e.g. \"list: p95<150ms\")")
	}
	return th, nil
}

func parseThreshold(ep, c string) (Threshold, error) {
	i := strings.IndexAny(c, "<>")
	if i <= 0 {
		return Threshold{}, fmt.Errorf("loadtest: threshold %q on %s: want metric<value (metrics: %s)", c, ep, metricNames())
	}
	t := Threshold{Endpoint: ep, Metric: strings.TrimSpace(c[:i])}
	for _, op := range ops {
		if strings.HasPrefix(c[i:], op) {
			t.Op = op
			break
		}
	}
	m, ok := metrics[t.Metric]
	if !ok {
		return Threshold{}, fmt.Errorf("loadtest: threshold %q on %s: unknown metric %q (metrics: %s)", c, ep, t.Metric, metricNames())
	}
	v := strings.TrimSpace(c[i+len(t.Op):])
	var err error
	switch m.kind {
	case kindLatency:
		var d time.Duration
		if d, err = time.ParseDuration(v); err == nil && d < 0 {
			err = errors.New("negative")
		}
		t.Value = d.Seconds()
		if err != nil {
			err = fmt.Errorf("want a duration such as 150ms: %w", err)
		}
	case kindRate:
		if p, found := strings.CutSuffix(v, "%"); found {
			t.Value, err = strconv.ParseFloat(strings.TrimSpace(p), 64)
			t.Value /= 100
		} else {
			t.Value, err = strconv.ParseFloat(v, 64)
		}
		if err == nil && (t.Value < 0 || t.Value > 1) {
			err = errors.New("a rate is between 0 and 1 (or 0% and 100%)")
		}
	default:
		t.Value, err = strconv.ParseFloat(v, 64)
		if err == nil && (t.Value < 0 || math.IsInf(t.Value, 0) || math.IsNaN(t.Value)) {
			err = errors.New("want a number >= 0")
		}
	}
	if err != nil {
		return Threshold{}, fmt.Errorf("loadtest: threshold %q on %s: value %q: %v", c, ep, v, err)
	}
	return t, nil
}

func metricNames() string {
	return "p50, p90, p95, p99, p99.9, max, mean, error_rate, shed_rate, throughput, errors, watched"
}

// String is the compact form, parseable by [ParseThresholds].
func (t Threshold) String() string {
	return t.Endpoint + ": " + t.Metric + t.Op + formatValue(metrics[t.Metric].kind, t.Value)
}

// String is the compact form, one group per threshold.
func (th Thresholds) String() string {
	parts := make([]string, len(th))
	for i, t := range th {
		parts[i] = t.String()
	}
	return strings.Join(parts, "; ")
}

func formatValue(k metricKind, v float64) string {
	switch k {
	case kindLatency:
		return time.Duration(math.Round(v * 1e9)).String()
	case kindRate:
		return strconv.FormatFloat(v*100, 'g', 4, 64) + "%"
	default:
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
}

func (t Threshold) holds(observed float64) bool {
	switch t.Op {
	case "<":
		return observed < t.Value
	case "<=":
		return observed <= t.Value
	case ">":
		return observed > t.Value
	default:
		return observed >= t.Value
	}
}

// Violation is a crossed threshold, or one that could not be evaluated (an
// unknown endpoint, no requests): nothing measured is not a pass.
type Violation struct {
	Threshold Threshold
	Observed  float64 // in the threshold's unit; 0 when Reason is set
	Reason    string  // why it could not be evaluated, else ""
}

func (v Violation) String() string {
	if v.Reason != "" {
		return fmt.Sprintf("%s: %s", v.Threshold, v.Reason)
	}
	return fmt.Sprintf("%s crossed: %s", v.Threshold, v.observed())
}

// observed is "p99 is 12ms": the metric's value.
func (v Violation) observed() string {
	return v.Threshold.Metric + " is " + formatValue(metrics[v.Threshold.Metric].kind, v.Observed)
}

// Check evaluates the thresholds on the run's totals and returns those
// crossed (none: the run passes; the caller exits non-zero otherwise). It
// also records thresholds and verdicts in r for the reports.
func (r *Result) Check(th Thresholds) []Violation {
	var out []Violation
	for _, t := range th {
		if v, bad := r.check(t); bad {
			out = append(out, v)
		}
	}
	r.Thresholds, r.Violations = th, out
	return out
}

// check evaluates t on r's totals: the verdict with the observed value,
// and whether t is crossed or could not be evaluated (then Reason says
// why).
func (r *Result) check(t Threshold) (v Violation, bad bool) {
	m, ok := metrics[t.Metric]
	if !ok {
		return Violation{Threshold: t, Reason: fmt.Sprintf("unknown metric (metrics: %s)", metricNames())}, true
	}
	if !slices.Contains(ops, t.Op) {
		return Violation{Threshold: t, Reason: fmt.Sprintf("unknown operator %q", t.Op)}, true
	}
	e, ok := r.Endpoint(t.Endpoint)
	switch {
	case !ok:
		return Violation{Threshold: t, Reason: fmt.Sprintf("no endpoint %q in this run (have %s)", t.Endpoint, strings.Join(r.endpointNames(), ", "))}, true
	case e.Total.Sent == 0:
		return Violation{Threshold: t, Reason: "no requests were sent"}, true
	case m.kind == kindLatency && e.Total.Admitted == 0:
		return Violation{Threshold: t, Reason: "no admitted answers to measure latency on"}, true
	}
	obs := m.value(e.Total)
	return Violation{Threshold: t, Observed: obs}, !t.holds(obs)
}

// thresholds turns an SLO into thresholds on endpoint name.
func (o SLO) thresholds(name string) Thresholds {
	var th Thresholds
	add := func(metric string, v float64) {
		if v > 0 {
			th = append(th, Threshold{Endpoint: name, Metric: metric, Op: "<=", Value: v})
		}
	}
	add("p50", o.P50.Seconds())
	add("p95", o.P95.Seconds())
	add("p99", o.P99.Seconds())
	add("error_rate", o.MaxErrorRate)
	add("shed_rate", o.MaxShedRate)
	return th
}
