package loadtest

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// LateAfter is how far behind its due time an arrival may start before it
// counts as late. A few milliseconds are timer and scheduler noise on a
// busy machine; more means the generator could not keep the open model
// (MaxInFlight reached or the generator short of CPU).
const LateAfter = 20 * time.Millisecond

// targeter builds each arrival's request and measures how late it starts.
// vegeta calls it at the start of each hit, from many workers.
type targeter struct {
	s     Scenario
	mix   *mix
	began time.Time
	calls atomic.Uint64

	late    atomic.Uint64
	latency *lockedHist // lateness in µs
}

func (t *targeter) target(tgt *vegeta.Target) error {
	n := t.calls.Add(1) - 1
	if due, ok := t.s.Schedule.due(n); ok {
		if late := time.Since(t.began) - due; late > 0 {
			t.latency.record(late.Microseconds())
			if late > LateAfter {
				t.late.Add(1)
			}
		} else {
			t.latency.record(0)
		}
	}
	ep, u := t.mix.next(t.s.Endpoints)
	req := t.s.Endpoints[ep].Build(u, n)
	tgt.Method = req.Method
	if tgt.Method == "" {
		tgt.Method = http.MethodGet
	}
	tgt.URL = t.s.BaseURL + req.Path
	tgt.Body = req.Body
	tgt.Header = make(http.Header, len(req.Header)+2)
	for k, v := range req.Header {
		tgt.Header.Set(k, v)
	}
	// A user has a token only when tokens are carried (TokenHeader not "-").
	if u.Token != "" {
		tgt.Header.Set(t.s.Users.TokenHeader, u.Token)
	}
	tgt.Header.Set(refHeader, ref{ep, u.ID}.String())
	return nil
}

// lockedHist is an HDR histogram safe for concurrent use.
type lockedHist struct {
	mu sync.Mutex
	h  *hdr.Histogram
}

func (l *lockedHist) record(v int64) {
	l.mu.Lock()
	record(l.h, v)
	l.mu.Unlock()
}

func (l *lockedHist) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Duration(l.h.ValueAtQuantile(q)) * time.Microsecond
}

func (l *lockedHist) max() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Duration(l.h.Max()) * time.Microsecond
}
