package loadtest

import "time"

// window is the resolution of the over-time series.
const window = time.Second

// tracker accumulates one endpoint (or the aggregate): the whole run, each
// stage, and 1-second windows. A window stays open while requests sent in
// it can still finish (Timeout plus a margin), then shrinks to its Stats,
// so at most Timeout/1s+3 windows hold histograms at any time.
type tracker struct {
	name    string
	slo     SLO
	highest time.Duration
	total   *bucket
	stages  []*bucket
	open    map[int]*bucket
	closed  []Stats
}

func newTracker(name string, slo SLO, s Schedule, timeout time.Duration) *tracker {
	highest := 2*timeout + time.Second
	t := &tracker{
		name:    name,
		slo:     slo,
		highest: highest,
		total:   newBucket(0, s.Duration(), highest, sigFigs),
		open:    map[int]*bucket{},
	}
	var start time.Duration
	for _, st := range s.Stages {
		t.stages = append(t.stages, newBucket(start, st.Duration, highest, sigFigsSmall))
		start += st.Duration
	}
	return t
}

// add records a request sent at offset off (in stage st) that took lat;
// watched is whether its answer contained Scenario.WatchFor. A result
// whose window is already closed counts in the totals and stages only.
func (t *tracker) add(cl class, lat, off time.Duration, st int, watched bool) {
	t.total.add(cl, lat, watched)
	t.stages[st].add(cl, lat, watched)
	w := int(off / window)
	if w < len(t.closed) {
		return
	}
	b := t.open[w]
	if b == nil {
		b = newBucket(time.Duration(w)*window, window, t.highest, sigFigsSmall)
		t.open[w] = b
	}
	b.add(cl, lat, watched)
}

// closeBefore summarises every window before w, empty ones included, so
// the series has one point per second.
func (t *tracker) closeBefore(w int) {
	for k := len(t.closed); k < w; k++ {
		if b := t.open[k]; b != nil {
			t.closed = append(t.closed, b.stats())
			delete(t.open, k)
			continue
		}
		t.closed = append(t.closed, Stats{Start: time.Duration(k) * window, Duration: window})
	}
}

func (t *tracker) result() EndpointResult {
	r := EndpointResult{Name: t.name, SLO: t.slo, Total: t.total.stats(), Windows: t.closed}
	for _, b := range t.stages {
		r.Stages = append(r.Stages, b.stats())
	}
	return r
}

// bytes is the histogram memory held now.
func (t *tracker) bytes() int64 {
	n := t.total.bytes()
	for _, b := range t.stages {
		n += b.bytes()
	}
	for _, b := range t.open {
		n += b.bytes()
	}
	return n
}

// EndpointResult is one endpoint's (or [AllEndpoints]') measurements.
type EndpointResult struct {
	Name    string
	SLO     SLO
	Total   Stats
	Stages  []Stats // one per Schedule stage
	Windows []Stats // one per second, by send time
}
