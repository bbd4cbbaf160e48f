package loadtest

import (
	"net/http"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The result is histograms and per-second summaries: 25 times the
// requests take the same memory. Not parallel: its 500/s would be the
// other tests' noise.
func TestMemoryDoesNotGrowWithRequests(t *testing.T) {
	url := serve(t, func(http.ResponseWriter, *http.Request) {})
	eps := []Endpoint{get("a", "/a", 1), get("b", "/b", 1)}
	low := run(t, Scenario{BaseURL: url, Endpoints: eps, Schedule: Constant(20, 3*time.Second)})
	high := run(t, Scenario{BaseURL: url, Endpoints: eps, Schedule: Constant(500, 3*time.Second)})
	if high.All.Total.Sent != 1500 || low.All.Total.Sent != 60 {
		t.Fatalf("sent %d and %d", low.All.Total.Sent, high.All.Total.Sent)
	}
	// Per tracker (2 endpoints + all): total, 1 stage and the open windows
	// (Timeout/1s + 3 at most), 2 histograms each.
	highest := (2*DefaultTimeout + time.Second).Microseconds()
	big := int64(hdr.New(1, highest, sigFigs).ByteSize())
	one := int64(hdr.New(1, highest, sigFigsSmall).ByteSize())
	bound := 3 * 2 * (big + (1+int64(DefaultTimeout/time.Second)+3)*one)
	t.Logf("histogram bytes: %d at 60 requests, %d at 1500, bound %d (%d per total histogram, %d per window)", low.PeakHistogramBytes, high.PeakHistogramBytes, bound, big, one)
	// Which windows are open at a tick depends on timing, not on the
	// request count: the bound is the invariant.
	if high.PeakHistogramBytes > bound || low.PeakHistogramBytes > bound {
		t.Fatalf("histogram memory %d at 1500 requests vs %d at 60 (bound %d)", high.PeakHistogramBytes, low.PeakHistogramBytes, bound)
	}
	if len(high.All.Windows) > 4 || len(high.Endpoints[0].Windows) > 4 {
		t.Fatalf("%d windows for 3 s", len(high.All.Windows))
	}
}
