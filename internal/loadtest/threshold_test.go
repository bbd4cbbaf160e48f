package loadtest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The mechanism `make loadtest` relies on: thresholds fail once a
// slowdown is injected. Only lower bounds on latency are asserted (a 1 s
// slowdown against 250 ms), so the machine's load cannot decide the
// verdict; TestCheckPasses is the passing half, on measured values. Not
// parallel with the package's other tests.
func TestThresholdsBiteOnInjectedSlowdown(t *testing.T) {
	th, err := ParseThresholds("api: p95<250ms, p99<500ms, error_rate<1%; all: shed_rate<=5%")
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { sleep(r, time.Second) })
	r := run(t, Scenario{BaseURL: url, Endpoints: []Endpoint{get("api", "/", 1)}, Schedule: Constant(20, 2*time.Second)})
	v := r.Check(th)
	t.Logf("p95 %v, p99 %v: %v", r.All.Total.P95, r.All.Total.P99, v)
	if len(v) != 2 || v[0].Threshold.Metric != "p95" || v[1].Threshold.Metric != "p99" || v[0].Observed < 1 {
		t.Fatalf("slowed server: violations %v, want p95 and p99 at >= 1s", v)
	}
	if !strings.Contains(v[0].String(), "api: p95<250ms crossed: p95 is ") {
		t.Fatalf("violation reads %q", v[0])
	}
}

// The same thresholds pass on a fast service's measurements, and check
// reports the observed value of a passing threshold too.
func TestCheckPasses(t *testing.T) {
	t.Parallel()
	th, err := ParseThresholds("api: p95<250ms, p99<500ms, error_rate<1%; all: shed_rate<=5%")
	if err != nil {
		t.Fatal(err)
	}
	fast := Stats{Duration: 2 * time.Second, Counts: Counts{Sent: 40, OK: 40}, Admitted: 40, P95: 2 * time.Millisecond, P99: 3 * time.Millisecond}
	r := &Result{Endpoints: []EndpointResult{{Name: "api", Total: fast}}, All: EndpointResult{Name: AllEndpoints, Total: fast}}
	if v := r.Check(th); len(v) != 0 || len(r.Violations) != 0 || len(r.Thresholds) != 4 {
		t.Fatalf("fast service crossed thresholds: %v (recorded %d thresholds)", v, len(r.Thresholds))
	}
	if v, bad := r.check(th[1]); bad || v.Observed != 0.003 || v.observed() != "p99 is 3ms" {
		t.Fatalf("check(%s) = %+v, %v; want 3ms, within", th[1], v, bad)
	}
	r.Endpoints[0].Total.P99 = 600 * time.Millisecond
	if v := r.Check(th); len(v) != 1 || v[0].String() != "api: p99<500ms crossed: p99 is 600ms" {
		t.Fatalf("p99 at 600ms: violations %v", v)
	}
}

func TestCheckWithoutDataFails(t *testing.T) {
	t.Parallel()
	r := &Result{Endpoints: []EndpointResult{{Name: "api"}, {Name: "shed", Total: Stats{Counts: Counts{Sent: 5, Shed: 5}}}}}
	th := Thresholds{
		{Endpoint: "api", Metric: "p99", Op: "<", Value: 1},  // nothing sent
		{Endpoint: "nope", Metric: "p99", Op: "<", Value: 1}, // unknown endpoint
		{Endpoint: "shed", Metric: "p99", Op: "<", Value: 1}, // nothing admitted
		{Endpoint: "shed", Metric: "shed_rate", Op: "<", Value: 0.5},
		{Endpoint: "shed", Metric: "bogus", Op: "<", Value: 1},
	}
	v := r.Check(th)
	if len(v) != 5 {
		t.Fatalf("%d violations, want 5: %v", len(v), v)
	}
	for i, want := range []string{"no requests", "no endpoint", "no admitted", "shed_rate is 100%", "unknown metric"} {
		if !strings.Contains(v[i].String(), want) {
			t.Errorf("violation %d = %q, want it to say %q", i, v[i], want)
		}
	}
}

func TestParseThresholds(t *testing.T) {
	t.Parallel()
	th, err := ParseThresholds("list: p95<150ms, p99<=400ms;\ncreate: error_rate<1% ; *: shed_rate<0.05, throughput>=100, errors<1, p99.9<2s")
	if err != nil {
		t.Fatal(err)
	}
	want := "list: p95<150ms; list: p99<=400ms; create: error_rate<1%; all: shed_rate<5%; all: throughput>=100; all: errors<1; all: p99.9<2s"
	if th.String() != want {
		t.Fatalf("got  %s\nwant %s", th, want)
	}
	again, err := ParseThresholds(th.String())
	if err != nil || again.String() != want {
		t.Fatalf("round trip: %s, %v", again, err)
	}
	for _, bad := range []string{
		"", "p95<150ms", ": p95<1s", "list: p95", "list: p95<150", "list: p95<-1s",
		"list: p42<1s", "list: error_rate<150%", "list: error_rate<x", "list: throughput<-3", "list: p95=1s",
	} {
		if _, err := ParseThresholds(bad); err == nil {
			t.Errorf("ParseThresholds(%q): no error", bad)
		} else if !strings.HasPrefix(err.Error(), "loadtest: ") {
			t.Errorf("ParseThresholds(%q): %v lacks the package prefix", bad, err)
		}
	}
}

func TestSLOThresholds(t *testing.T) {
	t.Parallel()
	s := Scenario{Endpoints: []Endpoint{
		{Name: "list", SLO: SLO{P95: 150 * time.Millisecond, P99: 400 * time.Millisecond}},
		{Name: "create", SLO: SLO{MaxErrorRate: 0.01}},
	}}
	if got, want := s.Thresholds().String(), "list: p95<=150ms; list: p99<=400ms; create: error_rate<=1%"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func FuzzParseThresholds(f *testing.F) {
	f.Add("list: p95<150ms, p99<400ms; create: error_rate<1%")
	f.Add("*: throughput>=10")
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThresholds(s)
		if err != nil {
			return
		}
		if _, err := ParseThresholds(th.String()); err != nil {
			t.Fatalf("%q parsed to %q, which does not parse: %v", s, th, err)
		}
	})
}

func ExampleParseThresholds() {
	th, err := ParseThresholds("list: p95<150ms, p99<400ms; create: error_rate<1%")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range th {
		fmt.Println(t)
	}
	// Output:
	// list: p95<150ms
	// list: p99<400ms
	// create: error_rate<1%
}
