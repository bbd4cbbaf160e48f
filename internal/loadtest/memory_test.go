package loadtest

import (
	"testing"
	"time"
)

// A tracker's histograms are the total, the stages and the open windows:
// as the run goes on, windows close behind it, so the memory held does
// not grow with the run's length or its request count.
func TestTrackerMemoryBounded(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	tr := newTracker("api", SLO{}, Constant(1, 30*time.Second), timeout)
	keep := keepOpen(timeout)
	// At most the current window and keep behind it are open.
	bound := tr.bytes() + int64(keep+1)*newBucket(0, window, tr.highest, sigFigsSmall).bytes()
	var peak int64
	for s := range 30 {
		for range 100 {
			tr.add(classOK, 10*time.Millisecond, time.Duration(s)*time.Second, 0, false)
		}
		tr.closeBefore(s - keep)
		peak = max(peak, tr.bytes())
		if len(tr.open) > keep+1 || tr.bytes() > bound {
			t.Fatalf("at %d s: %d windows open, %d histogram bytes; want at most %d and %d", s, len(tr.open), tr.bytes(), keep+1, bound)
		}
	}
	t.Logf("peak %d histogram bytes, bound %d", peak, bound)
	tr.closeBefore(30)
	r := tr.result()
	if len(tr.open) != 0 || len(r.Windows) != 30 || r.Total.Sent != 3000 || r.Windows[29].Sent != 100 {
		t.Fatalf("after closing: %d open, %d windows, %d sent", len(tr.open), len(r.Windows), r.Total.Sent)
	}
}
