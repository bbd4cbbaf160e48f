package loadtest

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Extra is a line the caller adds to the reports (queries per request,
// replica share of reads, hot keys the service found, budget per node):
// what only the service knows.
type Extra struct {
	Label, Value string
}

// WriteText writes the report the demo prints: per endpoint the rate,
// P50/P95/P99 against the SLO, errors and sheds; how well the generator
// kept the schedule; the hot users; the scrapes; the ramp steps and knee
// (when [Knee] was called); extra lines; the threshold verdicts (when
// [Result.Check] was called).
func (r *Result) WriteText(w io.Writer, extra ...Extra) error {
	ew := &errWriter{w: w}
	r.writeHeader(ew)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\tsent\tanswered/s\tok\tshed\terrors\tp50\tp95\tp99\tshed p99\t")
	for _, e := range append(r.Endpoints, r.All) {
		t := e.Total
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", e.Name, t.Sent, t.Throughput(), t.OK, t.Shed, t.Errors(),
			vsSLO(t.P50, e.SLO.P50), vsSLO(t.P95, e.SLO.P95), vsSLO(t.P99, e.SLO.P99), dur(t.ShedP99))
	}
	tw.Flush()
	t := r.All.Total
	fmt.Fprintf(ew, "errors: 503 without Retry-After %d, 4xx %d, 5xx %d, timeouts %d, transport %d, other %d, unattributed %d\n",
		t.ShedNoRetryAfter, t.ClientErrors, t.ServerErrors, t.Timeouts, t.TransportErrors, t.Other, r.Unattributed)
	if r.WatchFor != "" {
		fmt.Fprintf(ew, "answers containing %q: %d\n", r.WatchFor, t.Watched)
	}
	a := r.Arrivals
	fmt.Fprintf(ew, "arrivals: %d of %d sent, %d late by more than %v (lateness p99 %v, max %v)%s\n",
		t.Sent, r.Schedule.Arrivals(), a.Late, LateAfter, dur(a.LateP99), dur(a.LateMax), lateNote(a.Late, t.Sent))
	var hot uint64
	for _, h := range r.Hot {
		hot += h.Requests
	}
	if hot > 0 {
		parts := make([]string, len(r.Hot))
		for i, h := range r.Hot {
			parts[i] = fmt.Sprintf("%d (%d)", h.ID, h.Requests)
		}
		fmt.Fprintf(ew, "hot users made on purpose (id (requests)): %s\n", strings.Join(parts, ", "))
	}
	r.writeScrapes(ew)
	if len(r.Schedule.Stages) > 1 {
		r.writeStages(ew)
	}
	for _, k := range r.Knees {
		k.writeText(ew)
	}
	for _, x := range extra {
		fmt.Fprintf(ew, "%s: %s\n", x.Label, x.Value)
	}
	if r.Thresholds != nil {
		if len(r.Violations) == 0 {
			fmt.Fprintf(ew, "thresholds: PASS (%s)\n", r.Thresholds)
		} else {
			fmt.Fprintf(ew, "thresholds: FAIL, %d of %d crossed\n", len(r.Violations), len(r.Thresholds))
			for _, v := range r.Violations {
				fmt.Fprintf(ew, "  %s\n", v)
			}
		}
	}
	return ew.err
}

func (r *Result) writeHeader(w io.Writer) {
	s := r.Schedule
	shape := "constant"
	if len(s.Stages) > 1 {
		shape = fmt.Sprintf("%d stages", len(s.Stages))
	}
	rate := 0.0
	if d := s.Duration(); d > 0 {
		rate = float64(s.Arrivals()) / d.Seconds()
	}
	fmt.Fprintf(w, "loadtest %s: %s, %v at %.0f/s on average (%d arrivals), timeout %v, at most %d in flight\n",
		r.BaseURL, shape, s.Duration(), rate, s.Arrivals(), r.Timeout, r.MaxInFlight)
}

func (r *Result) writeScrapes(w io.Writer) {
	sc := r.Scrapes
	if len(sc.Samples) == 0 && sc.Failures == 0 {
		return
	}
	fmt.Fprintf(w, "scrapes: %d ok, %d failed", len(sc.Samples), sc.Failures)
	if sc.LastError != "" {
		fmt.Fprintf(w, " (last: %s)", sc.LastError)
	}
	fmt.Fprintln(w)
	for _, name := range sc.Names {
		_, v := sc.Series(name)
		if len(v) == 0 {
			continue
		}
		hi := math.Inf(-1)
		for _, x := range v {
			hi = max(hi, x)
		}
		fmt.Fprintf(w, "  %s: last %g, max %g\n", name, v[len(v)-1], hi)
	}
}

func (r *Result) writeStages(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\trate/s\tsent\tanswered/s\tp99\tshed\terrors\t")
	for i, st := range r.All.Stages {
		name := fmt.Sprint(i + 1)
		if r.Schedule.Stages[i].Recovery {
			name += " (drop)"
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%.1f\t%s\t%.1f%%\t%.1f%%\t\n", name, r.Schedule.Stages[i].Rate, st.Sent, st.Throughput(), dur(st.P99), 100*st.ShedRate(), 100*st.ErrorRate())
	}
	tw.Flush()
}

func (k KneeReport) writeText(w io.Writer) {
	if k.Found {
		fmt.Fprintf(w, "knee of %s: %.0f/s (highest step rate with %s)\n", k.Endpoint, k.Rate, k.SLO)
	} else {
		fmt.Fprintf(w, "knee of %s: none, the first step already missed %s\n", k.Endpoint, k.SLO)
	}
	for _, s := range k.Steps {
		if !s.Within {
			fmt.Fprintf(w, "  %.0f/s: %s\n", s.Rate, s.Why)
		}
	}
	if rec := k.Recovery; rec != nil {
		if rec.Recovered {
			fmt.Fprintf(w, "  recovery: within the SLO %v after the drop to %.0f/s\n", rec.After, rec.Rate)
		} else {
			fmt.Fprintf(w, "  recovery: NOT back within the SLO by the end of the drop to %.0f/s\n", rec.Rate)
		}
	}
}

// String is the SLO in threshold form, e.g. "p99<=400ms, shed_rate<=1%".
func (o SLO) String() string {
	th := o.thresholds("")
	parts := make([]string, len(th))
	for i, t := range th {
		parts[i] = strings.TrimPrefix(t.String(), ": ")
	}
	return strings.Join(parts, ", ")
}

// lateNote warns when more than 1% of arrivals were late: a few are timer
// noise on a busy machine, more means the measured model was not open.
func lateNote(late, sent uint64) string {
	if late*100 <= sent {
		return ""
	}
	return ": the generator fell behind (MaxInFlight reached or short of CPU), the model was not open"
}

// vsSLO is "12ms" or "12ms/150ms ok" or "312ms/150ms MISS".
func vsSLO(d, slo time.Duration) string {
	if slo <= 0 {
		return dur(d)
	}
	verdict := "ok"
	if d > slo {
		verdict = "MISS"
	}
	return dur(d) + "/" + dur(slo) + " " + verdict
}

// dur rounds a duration for reading: 3 significant digits.
func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// errWriter keeps the first write error so the report code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
