package loadtest

import (
	"cmp"
	"fmt"
	"time"
)

// Defaults of [Knee] for the SLO fields left zero.
const (
	// DefaultKneeMaxShed is the shed share a step may have and still count
	// as carried: past the knee the service sheds by design, so a step
	// whose admitted P99 is fine but which sheds a lot is not "carried".
	DefaultKneeMaxShed = 0.01
	// DefaultKneeMaxErrors is the error share a step may have.
	DefaultKneeMaxErrors = 0.01
	// kneeMinSent is the share of a step's scheduled arrivals the
	// generator must have sent for the step to count (else the generator,
	// not the service, was the limit).
	kneeMinSent = 0.95
)

// KneeReport is the ramp analysis of one endpoint (or [AllEndpoints]).
type KneeReport struct {
	Endpoint string
	SLO      SLO
	// Found is false when even the first step was outside the SLO; Rate
	// is then 0.
	Found bool
	// Rate is the knee: the highest step rate of the leading run of steps
	// within the SLO (arrivals per second).
	Rate  float64
	Steps []Step
	// Recovery is how fast the service came back after the drop; nil when
	// the schedule has no recovery stage.
	Recovery *Recovery
}

// Step is one ramp step and its verdict.
type Step struct {
	Rate   float64
	Stats  Stats
	Within bool
	Why    string // why not within ("" when within)
}

// Recovery is the windows after the rate dropped back.
type Recovery struct {
	Drop time.Duration // offset of the drop
	Rate float64       // the rate dropped to
	// Recovered is true when the last windows of the recovery stage are
	// within the SLO; After is from the drop to the first window from
	// which every later one is within.
	Recovered bool
	After     time.Duration
	Windows   []Stats
}

// Knee analyses a ramp: per step, the admitted P99 (and P95 if set), the
// shed and error shares against slo, and the knee, the highest step rate
// whose P99 stayed within the SLO. slo.P99 or slo.P95 must be set; zero
// MaxShedRate and MaxErrorRate mean [DefaultKneeMaxShed] and
// [DefaultKneeMaxErrors]. The report is also recorded in r.Knees for
// [Result.WriteText] and [Result.WriteHTML].
func Knee(r *Result, endpoint string, slo SLO) (KneeReport, error) {
	e, ok := r.Endpoint(endpoint)
	if !ok {
		return KneeReport{}, fmt.Errorf("loadtest: knee: no endpoint %q (have %v)", endpoint, r.endpointNames())
	}
	if slo.P99 <= 0 && slo.P95 <= 0 {
		return KneeReport{}, fmt.Errorf("loadtest: knee of %s: the SLO has neither P99 nor P95", endpoint)
	}
	slo.MaxShedRate = cmp.Or(slo.MaxShedRate, DefaultKneeMaxShed)
	slo.MaxErrorRate = cmp.Or(slo.MaxErrorRate, DefaultKneeMaxErrors)
	k := KneeReport{Endpoint: e.Name, SLO: slo}
	leading := true
	for i, st := range r.Schedule.Stages {
		if st.Recovery {
			k.Recovery = recovery(e, st, e.Stages[i].Start, slo)
			continue
		}
		why := slo.miss(e.Stages[i])
		if why == "" {
			if want := st.Rate * st.Duration.Seconds(); float64(r.All.Stages[i].Sent) < kneeMinSent*want {
				why = fmt.Sprintf("the generator sent %d of %.0f arrivals", r.All.Stages[i].Sent, want)
			}
		}
		k.Steps = append(k.Steps, Step{Rate: st.Rate, Stats: e.Stages[i], Within: why == "", Why: why})
		if leading && why == "" {
			k.Found, k.Rate = true, st.Rate
		} else {
			leading = false
		}
	}
	for i := range r.Knees {
		if r.Knees[i].Endpoint == k.Endpoint {
			r.Knees[i] = k
			return k, nil
		}
	}
	r.Knees = append(r.Knees, k)
	return k, nil
}

// miss says how s misses the SLO, "" if it does not.
func (o SLO) miss(s Stats) string {
	switch {
	case s.Sent == 0:
		return "no requests"
	case s.Admitted == 0:
		return "nothing admitted"
	case o.P99 > 0 && s.P99 > o.P99:
		return fmt.Sprintf("p99 %v > %v", s.P99, o.P99)
	case o.P95 > 0 && s.P95 > o.P95:
		return fmt.Sprintf("p95 %v > %v", s.P95, o.P95)
	case o.MaxShedRate > 0 && s.ShedRate() > o.MaxShedRate:
		return fmt.Sprintf("shed %.1f%% > %.1f%%", 100*s.ShedRate(), 100*o.MaxShedRate)
	case o.MaxErrorRate > 0 && s.ErrorRate() > o.MaxErrorRate:
		return fmt.Sprintf("errors %.1f%% > %.1f%%", 100*s.ErrorRate(), 100*o.MaxErrorRate)
	}
	return ""
}

// recovery looks at the whole windows of the recovery stage.
func recovery(e *EndpointResult, st Stage, drop time.Duration, slo SLO) *Recovery {
	rec := &Recovery{Drop: drop, Rate: st.Rate}
	for _, w := range e.Windows {
		if w.Start >= drop && w.Start+w.Duration <= drop+st.Duration {
			rec.Windows = append(rec.Windows, w)
		}
	}
	first := -1
	for i, w := range rec.Windows {
		switch {
		case slo.miss(w) != "":
			first = -1
		case first < 0:
			first = i
		}
	}
	if first >= 0 {
		rec.Recovered = true
		rec.After = rec.Windows[first].Start - drop
	}
	return rec
}
