package dbx

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Slots granted at once reach the gate-wait histogram at scrape as zero
// waits, next to the waits observed: the series read as with an Observe(0)
// per call.
func TestGateWaitsCountFreeGrants(t *testing.T) {
	t.Parallel()
	m := newMetrics("svc", "c")
	g := newGate("primary", 3, 4, time.Second, m.observeAcquire("primary"))
	ctx := context.Background()
	for range 3 {
		if err := g.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waited := make(chan error)
	go func() { waited <- g.acquire(ctx) }()
	for g.state().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}
	g.release()
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	ch := make(chan prometheus.Metric, 4)
	m.gateWaits(ch, []*Node{{name: "primary", gate: g}})
	close(ch)
	var d dto.Metric
	if err := (<-ch).Write(&d); err != nil {
		t.Fatal(err)
	}
	h := d.GetHistogram()
	if h.GetSampleCount() != 4 {
		t.Fatalf("count %d, want 4 (3 free grants, 1 wait)", h.GetSampleCount())
	}
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == 0 && b.GetCumulativeCount() != 3 {
			t.Fatalf("le=0 bucket %d, want the 3 free grants", b.GetCumulativeCount())
		}
		if b.GetUpperBound() == 5 && b.GetCumulativeCount() != 4 {
			t.Fatalf("le=5 bucket %d, want every call", b.GetCumulativeCount())
		}
	}
	if h.GetSampleSum() <= 0 {
		t.Fatalf("sum %v: the wait is lost", h.GetSampleSum())
	}
}
