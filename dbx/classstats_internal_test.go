package dbx

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The burn-rate windows forget what is older than they are: bad calls ten
// minutes ago burn the 30m, 1h and 6h windows, not the 5m one.
func TestBurnWindows(t *testing.T) {
	t.Parallel()
	c := &Class{Name: "q", P99: 10 * time.Millisecond, Objective: 0.99}
	rec := newClassRecord([]Class{*c}, "s", "c")
	s := rec.forNode("primary")[rec.set.byName["q"]]
	t0 := 1000 * time.Hour // a monoNow reading
	for range 10 {
		s.observe(t0, 50*time.Millisecond, -1, nil) // slow: bad
		s.observe(t0, time.Millisecond, -1, nil)    // good
	}
	now := t0 + 10*time.Minute
	for range 100 {
		s.observe(now, time.Millisecond, -1, nil)
	}
	st := s.snapshot(now)
	want := map[time.Duration]float64{
		5 * time.Minute:  0,
		30 * time.Minute: (10.0 / 120) / 0.01,
		time.Hour:        (10.0 / 120) / 0.01,
		6 * time.Hour:    (10.0 / 120) / 0.01,
	}
	for w, v := range want {
		if math.Abs(st.Burn[w]-v) > 1e-9 {
			t.Errorf("burn over %v = %v, want %v", w, st.Burn[w], v)
		}
	}
	if st.Calls != 120 || st.Bad != 10 {
		t.Errorf("calls %d, bad %d: want 120, 10", st.Calls, st.Bad)
	}
	// Six hours later every window is empty again.
	if st := s.snapshot(t0 + 7*time.Hour); st.Burn[6*time.Hour] != 0 {
		t.Errorf("6h burn 7h later = %v, want 0", st.Burn[6*time.Hour])
	}
}

func TestSpendsBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&pgconn.PgError{Code: "23505"}, false}, // the application's own: unique violation
		{&pgconn.PgError{Code: "42601"}, false}, // syntax
		{&pgconn.PgError{Code: "57014"}, true},  // cancelled
		{&pgconn.PgError{Code: "53300"}, true},  // server full
		{&BudgetSpentError{}, true},
		{errors.New("conn closed"), true},
	} {
		if got := spendsBudget(tc.err); got != tc.want {
			t.Errorf("spendsBudget(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// lockedHist's series are a prometheus.Histogram's: the same buckets,
// count and sum for the same observations, bounds included.
func TestLockedHistMatchesPrometheus(t *testing.T) {
	t.Parallel()
	bounds := []float64{0.001, 0.01, 0.1}
	h := newLockedHist(bounds)
	p := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x", Buckets: bounds})
	for _, v := range []float64{0, 0.0005, 0.001, 0.002, 0.01, 0.05, 0.1, 0.2, 7} {
		h.observe(v)
		p.Observe(v)
	}
	var d dto.Metric
	if err := p.Write(&d); err != nil {
		t.Fatal(err)
	}
	buckets := map[float64]uint64{}
	var count uint64
	var sum float64
	h.addTo(buckets, &count, &sum)
	ph := d.GetHistogram()
	if count != ph.GetSampleCount() || sum != ph.GetSampleSum() {
		t.Errorf("count, sum = %d, %v; prometheus %d, %v", count, sum, ph.GetSampleCount(), ph.GetSampleSum())
	}
	for _, b := range ph.GetBucket() {
		if buckets[b.GetUpperBound()] != b.GetCumulativeCount() {
			t.Errorf("bucket le=%v: %d, prometheus %d", b.GetUpperBound(), buckets[b.GetUpperBound()], b.GetCumulativeCount())
		}
	}
}
