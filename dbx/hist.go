package dbx

import "sort"

// lockedHist is a Prometheus histogram whose owner's lock guards it. The
// statements of a node's queries are timed into their class's record, which
// takes its lock for the call anyway (classstats.go): there an observation
// is a few plain adds, where a prometheus.Histogram makes four atomic
// writes on cache lines that every core writes (~50 ns each under load, for
// two histograms per statement). It is exported at scrape time as a const
// histogram, with the same series a prometheus.Histogram would have.
type lockedHist struct {
	bounds []float64 // upper bounds, ascending; shared, not written
	counts []uint64  // per bucket, not cumulative; the last is +Inf's
	sum    float64
}

func newLockedHist(bounds []float64) lockedHist {
	return lockedHist{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

// observe records v seconds; a bucket counts the values at or below its
// bound, as Prometheus's do.
func (h *lockedHist) observe(v float64) {
	h.counts[sort.SearchFloat64s(h.bounds, v)]++
	h.sum += v
}

// count is the number of observations.
func (h *lockedHist) count() uint64 {
	var n uint64
	for _, c := range h.counts {
		n += c
	}
	return n
}

// addTo adds h to a cumulative bucket map, count and sum.
func (h *lockedHist) addTo(buckets map[float64]uint64, count *uint64, sum *float64) {
	var c uint64
	for i, b := range h.bounds {
		c += h.counts[i]
		buckets[b] += c
	}
	*count += c + h.counts[len(h.bounds)]
	*sum += h.sum
}
