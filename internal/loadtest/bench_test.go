package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkGenerator measures the generator's own ceiling and the latency
// floor it adds: constant rates against a handler that does nothing, in
// the same process (so the server shares the CPU, as the demo's service
// and Postgres do). A rate is carried when sent/s and answered/s match it
// and few arrivals are late. Run with -benchtime=1x:
//
//	go test -run XXX -bench Generator -benchtime 1x ./internal/loadtest/
func BenchmarkGenerator(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	for _, rate := range []float64{100, 1000, 2000, 4000, 8000} {
		b.Run(fmt.Sprintf("rate=%.0f", rate), func(b *testing.B) {
			for range b.N {
				r, err := Run(context.Background(), Scenario{
					BaseURL:   srv.URL,
					Endpoints: []Endpoint{get("noop", "/", 1)},
					Schedule:  Constant(rate, 3*time.Second),
				}, nil)
				if err != nil {
					b.Fatal(err)
				}
				t := r.All.Total
				b.ReportMetric(float64(t.Sent)/r.Elapsed.Seconds(), "sent/s")
				b.ReportMetric(t.Throughput(), "answered/s")
				b.ReportMetric(float64(t.P50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(t.P99.Microseconds()), "p99-µs")
				b.ReportMetric(100*float64(r.Arrivals.Late)/float64(max(t.Sent, 1)), "late-%")
				b.ReportMetric(float64(r.Arrivals.LateP99.Microseconds()), "lateness-p99-µs")
				b.ReportMetric(float64(t.Errors()), "errors")
			}
		})
	}
}
