package loadtest

import (
	"net/http"
	"slices"
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

// stepStats is one second of n requests, shed of them shed, the admitted
// ones at p99.
func stepStats(start time.Duration, n, shed uint64, p99 time.Duration) Stats {
	return Stats{
		Start: start, Duration: time.Second,
		Counts:   Counts{Sent: n, OK: n - shed, Shed: shed},
		Admitted: n - shed, P99: p99,
	}
}

// kneeResult is a ramp 40..280/s by 60 (1 s steps) and a 3 s drop to
// 40/s, measured by hand: within a 400 ms P99 up to 100/s, then 900 ms at
// 160/s, 300 ms at 220/s (within, but after a miss), shedding 20% at
// 280/s; the drop's first second misses, the next two are within.
func kneeResult(t *testing.T) *Result {
	t.Helper()
	sched, err := Ramp(40, 280, 60, time.Second, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	e := EndpointResult{Name: "api", Stages: []Stats{
		stepStats(0, 40, 0, 60*ms),
		stepStats(time.Second, 100, 0, 80*ms),
		stepStats(2*time.Second, 160, 0, 900*ms),
		stepStats(3*time.Second, 220, 0, 300*ms),
		stepStats(4*time.Second, 280, 56, time.Second),
		{Start: 5 * time.Second, Duration: 3 * time.Second, Counts: Counts{Sent: 120, OK: 120}, Admitted: 120, P99: 500 * ms},
	}}
	e.Windows = append(e.Windows, e.Stages[:5]...)
	e.Windows = append(e.Windows,
		stepStats(5*time.Second, 40, 0, time.Second),
		stepStats(6*time.Second, 40, 0, 50*ms),
		stepStats(7*time.Second, 40, 0, 40*ms))
	all := e
	all.Name, all.Stages, all.Windows = AllEndpoints, slices.Clone(e.Stages), slices.Clone(e.Windows)
	return &Result{Schedule: sched, Endpoints: []EndpointResult{e}, All: all}
}

func TestKnee(t *testing.T) {
	t.Parallel()
	r := kneeResult(t)
	slo := SLO{P99: 400 * time.Millisecond}
	k, err := Knee(r, "api", slo)
	if err != nil {
		t.Fatal(err)
	}
	// The knee is the last step of the leading run within the SLO: the
	// 220/s step is within, but after the 160/s miss.
	if !k.Found || k.Rate != 100 || len(k.Steps) != 5 {
		t.Fatalf("knee %v (found %v), %d steps; want 100/s of 5 steps", k.Rate, k.Found, len(k.Steps))
	}
	for i, want := range []string{"", "", "p99 900ms > 400ms", "", "p99 1s > 400ms"} {
		if s := k.Steps[i]; s.Why != want || s.Within != (want == "") || s.Stats != r.Endpoints[0].Stages[i] {
			t.Errorf("step %v/s: within %v, why %q; want %q", s.Rate, s.Within, s.Why, want)
		}
	}
	if k.SLO.MaxShedRate != DefaultKneeMaxShed || k.SLO.MaxErrorRate != DefaultKneeMaxErrors {
		t.Errorf("SLO %+v: want the knee defaults for shed and errors", k.SLO)
	}
	// Shedding alone misses the SLO.
	k2, err := Knee(r, "api", SLO{P99: 2 * time.Second})
	if err != nil || k2.Rate != 220 || k2.Steps[4].Why != "shed 20.0% > 1.0%" {
		t.Fatalf("knee %v (%v), top step %q; want 220/s, the 280/s step shedding", k2.Rate, err, k2.Steps[4].Why)
	}
	rec := k.Recovery
	if rec == nil || rec.Drop != 5*time.Second || rec.Rate != 40 || len(rec.Windows) != 3 || !rec.Recovered || rec.After != time.Second {
		t.Fatalf("recovery %+v, want recovered 1 s after the drop at 5 s to 40/s, 3 windows", rec)
	}
	if len(r.Knees) != 1 || r.Knees[0].Rate != 220 {
		t.Fatalf("recorded knees %+v, want the last one of api", r.Knees)
	}

	all, err := Knee(r, AllEndpoints, slo)
	if err != nil || all.Rate != k.Rate || len(r.Knees) != 2 {
		t.Fatalf("aggregate knee %v (%v), want the single endpoint's %v recorded next to it", all.Rate, err, k.Rate)
	}
}

// A step the generator could not send is not one the service carried; a
// first step outside the SLO means no knee; a ramp without a drop has no
// recovery.
func TestKneeNotCarried(t *testing.T) {
	t.Parallel()
	r := kneeResult(t)
	r.All.Stages[1].Sent = 90 // of 100 scheduled
	k, err := Knee(r, "api", SLO{P99: 400 * time.Millisecond})
	if err != nil || k.Rate != 40 || k.Steps[1].Why != "the generator sent 90 of 100 arrivals" {
		t.Fatalf("knee %v (%v), 100/s step %q; want 40/s, the generator short", k.Rate, err, k.Steps[1].Why)
	}
	k, err = Knee(r, "api", SLO{P99: 50 * time.Millisecond})
	if err != nil || k.Found || k.Rate != 0 {
		t.Fatalf("knee %v (found %v, %v), want none", k.Rate, k.Found, err)
	}
	r = kneeResult(t)
	r.Schedule.Stages = r.Schedule.Stages[:5]
	if k, err := Knee(r, "api", SLO{P99: 400 * time.Millisecond}); err != nil || k.Recovery != nil || k.Rate != 100 {
		t.Fatalf("without a drop: knee %v, recovery %+v (%v)", k.Rate, k.Recovery, err)
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
