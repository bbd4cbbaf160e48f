package loadtest

import (
	"fmt"
	"time"
)

// Result is what [Run] measured. It holds summaries and histogram-derived
// percentiles, never per-request samples.
type Result struct {
	BaseURL     string
	Schedule    Schedule
	Timeout     time.Duration
	MaxInFlight int
	WatchFor    string
	// Elapsed is from the first arrival to the last answer.
	Elapsed time.Duration
	// Endpoints is per endpoint, in scenario order; All is their
	// aggregate (named [AllEndpoints]).
	Endpoints []EndpointResult
	All       EndpointResult
	Arrivals  Arrivals
	// Hot is the users the generator made hot on purpose.
	Hot     []HotUser
	Scrapes Scrapes
	// Unattributed counts requests that never reached the transport (an
	// endpoint built a bad URL); they count as transport errors in All
	// only, since which endpoint built them is not known.
	Unattributed uint64
	// PeakHistogramBytes is the most memory the latency histograms held
	// at once: it depends on the schedule and timeout, not on the number
	// of requests.
	PeakHistogramBytes int64
	// Thresholds and Violations are recorded by [Result.Check] so the
	// reports can show the verdicts.
	Thresholds Thresholds
	Violations []Violation
	// Knees are recorded by [Knee], for the reports.
	Knees []KneeReport
}

// Arrivals is how well the generator kept the open model. The arrivals
// the schedule asked for are Result.Schedule.Arrivals(); those sent (fewer
// only when the run was cancelled) are Result.All.Total.Sent.
type Arrivals struct {
	// Late counts arrivals sent more than [LateAfter] after their due
	// time; LateP99 and LateMax are the lateness of all arrivals.
	Late             uint64
	LateP99, LateMax time.Duration
}

// Endpoint returns the named endpoint's result; [AllEndpoints] or "*" is
// the aggregate.
func (r *Result) Endpoint(name string) (*EndpointResult, bool) {
	if name == AllEndpoints || name == "*" {
		return &r.All, true
	}
	for i := range r.Endpoints {
		if r.Endpoints[i].Name == name {
			return &r.Endpoints[i], true
		}
	}
	return nil, false
}

func (r *Result) endpointNames() []string {
	names := make([]string, 0, len(r.Endpoints)+1)
	for _, e := range r.Endpoints {
		names = append(names, e.Name)
	}
	return append(names, AllEndpoints)
}

// String is a one-line summary.
func (r *Result) String() string {
	t := r.All.Total
	return fmt.Sprintf("loadtest: %d sent, %.1f/s answered, p99 %v, %d shed, %d errors",
		t.Sent, t.Throughput(), t.P99, t.Shed, t.Errors())
}
