package loadtest

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// limited is a service with a fixed concurrency (slots) and a bounded
// queue: past its capacity latency grows to the queue's length, then it
// sheds with 503 + Retry-After, as the orders service is designed to.
func limited(slots, queue int, hold time.Duration) http.HandlerFunc {
	sem := make(chan struct{}, slots)
	var waiting atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		if waiting.Add(1) > int64(queue) {
			waiting.Add(-1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"overloaded"}`, http.StatusServiceUnavailable)
			return
		}
		sem <- struct{}{}
		waiting.Add(-1)
		sleep(r, hold)
		<-sem
	}
}

// Not parallel: the other tests' load is noise here. The service's times
// are large (50 ms a request, a full queue waits 1 s) so that a busy
// 2-core machine or the race detector cannot move the knee across the
// 400 ms SLO.
func TestKneeOfAConcurrencyLimitedServer(t *testing.T) {
	// 8 slots x 50 ms = 160 requests/s of capacity; a full queue of 160
	// waits 1 s.
	url := serve(t, limited(8, 160, 50*time.Millisecond))
	sched, err := Ramp(40, 280, 60, time.Second, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, Scenario{BaseURL: url, Endpoints: []Endpoint{get("api", "/", 1)}, Schedule: sched})
	slo := SLO{P99: 400 * time.Millisecond}
	k, err := Knee(r, "api", slo)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range k.Steps {
		t.Logf("step %4.0f/s: sent %d, p99 %v, shed %.1f%%, within %v %s", s.Rate, s.Stats.Sent, s.Stats.P99, 100*s.Stats.ShedRate(), s.Within, s.Why)
	}
	if !k.Found || k.Rate < 40 || k.Rate > 160 {
		t.Fatalf("knee %v (found %v), want in [40, 160]: the capacity is 160/s", k.Rate, k.Found)
	}
	top := k.Steps[len(k.Steps)-1]
	if top.Within || top.Stats.ShedRate() < 0.05 {
		t.Fatalf("280/s step within %v, shed %.2f: want outside the SLO and shedding (> 5%%)", top.Within, top.Stats.ShedRate())
	}
	if top.Stats.Errors() != 0 || r.All.Total.ShedNoRetryAfter != 0 {
		t.Fatalf("errors %d: overload must be sheds with Retry-After only", top.Stats.Errors())
	}
	if k.Recovery == nil || len(k.Recovery.Windows) < 2 {
		t.Fatalf("recovery %+v, want the windows of the 3 s drop", k.Recovery)
	}
	if !k.Recovery.Within(2 * time.Second) {
		t.Fatalf("not recovered within 2 s of the drop: %+v", k.Recovery)
	}
	t.Logf("knee %v/s, recovered %v after the drop", k.Rate, k.Recovery.After)

	all, err := Knee(r, AllEndpoints, slo)
	if err != nil || all.Rate != k.Rate {
		t.Fatalf("aggregate knee %v (%v), want the single endpoint's %v", all.Rate, err, k.Rate)
	}
}

func TestKneeBadInput(t *testing.T) {
	t.Parallel()
	r := &Result{Endpoints: []EndpointResult{{Name: "api"}}}
	if _, err := Knee(r, "nope", SLO{P99: time.Second}); err == nil {
		t.Fatal("unknown endpoint: no error")
	}
	if _, err := Knee(r, "api", SLO{}); err == nil {
		t.Fatal("SLO without P95/P99: no error")
	}
}

func TestRampValidation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ start, end, step float64 }{{0, 10, 1}, {10, 5, 1}, {1, 10, 0}, {1, 1e6, 1}} {
		if _, err := Ramp(c.start, c.end, c.step, time.Second, 0); err == nil {
			t.Errorf("Ramp(%v, %v, %v): no error", c.start, c.end, c.step)
		}
	}
	s, err := Ramp(10, 30, 10, time.Second, 2*time.Second)
	if err != nil || len(s.Stages) != 4 || !s.Stages[3].Recovery || s.Stages[3].Rate != 10 || s.Arrivals() != 80 {
		t.Fatalf("Ramp(10, 30, 10): %+v, %v", s, err)
	}
}
