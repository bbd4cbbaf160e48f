package loadtest

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Stats summarises the requests of an endpoint over the whole run, one
// stage or one 1-second window (requests are placed by the time they were
// sent). Latencies are of admitted requests: every answer but a 503 shed,
// plus timeouts at the time they gave up (so a stall shows as latency,
// not as a gap); sheds have their own ShedP99 (they should be fast).
type Stats struct {
	Start    time.Duration // offset from the start of the run
	Duration time.Duration
	Counts
	Admitted                      uint64 // latency samples
	P50, P90, P95, P99, P999, Max time.Duration
	Mean                          time.Duration
	ShedP99                       time.Duration
}

// Throughput is answered requests (any status) per second.
func (s Stats) Throughput() float64 { return perSecond(s.Answered(), s.Duration) }

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Latency histograms are in microseconds from 1 µs to twice the timeout.
// The run's totals, which thresholds check, keep 3 significant digits
// (0.1% error, ~120 KiB each with a 5 s timeout); stages and 1-second
// windows keep 2 (1%, ~15 KiB), so a long ramp stays small. The size
// does not depend on the number of requests.
const (
	sigFigs      = 3
	sigFigsSmall = 2
)

// bucket accumulates one Stats: counts and two HDR histograms, never the
// samples themselves, so memory does not grow with the request count.
type bucket struct {
	start, dur time.Duration
	counts     Counts
	admitted   *hdr.Histogram
	shed       *hdr.Histogram
}

func newBucket(start, dur, highest time.Duration, figs int) *bucket {
	h := max(highest.Microseconds(), 1000)
	return &bucket{
		start:    start,
		dur:      dur,
		admitted: hdr.New(1, h, figs),
		shed:     hdr.New(1, h, figs),
	}
}

func (b *bucket) add(cl class, lat time.Duration, watched bool) {
	b.counts.add(cl)
	if watched {
		b.counts.Watched++
	}
	us := max(lat.Microseconds(), 1)
	switch cl {
	case classShed, classShedNoRetry:
		record(b.shed, us)
	case classTransportError:
		// No answer and no wait worth measuring (refused at once).
	default:
		record(b.admitted, us)
	}
}

// record clamps to the histogram's range: a value past it is counted at
// the top rather than dropped.
func record(h *hdr.Histogram, us int64) {
	_ = h.RecordValue(min(us, h.HighestTrackableValue()))
}

func (b *bucket) stats() Stats {
	q := func(p float64) time.Duration {
		return time.Duration(b.admitted.ValueAtQuantile(p)) * time.Microsecond
	}
	return Stats{
		Start:    b.start,
		Duration: b.dur,
		Counts:   b.counts,
		Admitted: uint64(b.admitted.TotalCount()),
		P50:      q(50),
		P90:      q(90),
		P95:      q(95),
		P99:      q(99),
		P999:     q(99.9),
		Max:      time.Duration(b.admitted.Max()) * time.Microsecond,
		Mean:     time.Duration(b.admitted.Mean()) * time.Microsecond,
		ShedP99:  time.Duration(b.shed.ValueAtQuantile(99)) * time.Microsecond,
	}
}

func (b *bucket) bytes() int64 { return int64(b.admitted.ByteSize() + b.shed.ByteSize()) }
