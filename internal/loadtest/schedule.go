package loadtest

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Schedule is the arrival rate over time as constant-rate stages, run one
// after the other. Arrivals are open-model: each is sent at its due time
// whether or not earlier requests have been answered.
type Schedule struct {
	Stages []Stage
}

// Stage is a period at a constant arrival rate.
type Stage struct {
	Rate     float64       // arrivals per second, > 0
	Duration time.Duration // >= 1 s
	// Recovery marks the drop after a ramp: [Knee] measures how soon
	// latency and shedding are back to normal in it.
	Recovery bool
}

// Constant is one stage at rate arrivals per second for d.
func Constant(rate float64, d time.Duration) Schedule {
	return Schedule{Stages: []Stage{{Rate: rate, Duration: d}}}
}

// Ramp is steps from start to end (inclusive) by step arrivals per second,
// each held for stepDur, then a drop back to start held for recoverDur, to
// show recovery. recoverDur zero means no recovery stage.
func Ramp(start, end, step float64, stepDur, recoverDur time.Duration) (Schedule, error) {
	if start <= 0 || end < start || step <= 0 {
		return Schedule{}, fmt.Errorf("loadtest: ramp %v..%v by %v: want 0 < start <= end and step > 0", start, end, step)
	}
	if n := (end-start)/step + 1; n > 1000 {
		return Schedule{}, fmt.Errorf("loadtest: ramp %v..%v by %v has %.0f steps, at most 1000", start, end, step, n)
	}
	var s Schedule
	for r := start; r <= end+step/1e6; r += step {
		s.Stages = append(s.Stages, Stage{Rate: r, Duration: stepDur})
	}
	if recoverDur > 0 {
		s.Stages = append(s.Stages, Stage{Rate: start, Duration: recoverDur, Recovery: true})
	}
	return s, s.validate()
}

// Duration is the schedule's total length.
func (s Schedule) Duration() time.Duration {
	var d time.Duration
	for _, st := range s.Stages {
		d += st.Duration
	}
	return d
}

// Arrivals is the number of requests the schedule sends.
func (s Schedule) Arrivals() uint64 {
	var n float64
	for _, st := range s.Stages {
		n += st.Rate * st.Duration.Seconds()
	}
	// Arrival k is due while k < the running total, so a fractional
	// total rounds up.
	return uint64(max(0, math.Ceil(n-1e-9)))
}

func (s Schedule) validate() error {
	if len(s.Stages) == 0 {
		return errors.New("loadtest: Scenario.Schedule has no stages (use loadtest.Constant or loadtest.Ramp)")
	}
	for i, st := range s.Stages {
		switch {
		case !(st.Rate > 0) || math.IsInf(st.Rate, 0):
			return fmt.Errorf("loadtest: Schedule.Stages[%d].Rate %v, want > 0 arrivals per second", i, st.Rate)
		case st.Duration < time.Second:
			return fmt.Errorf("loadtest: Schedule.Stages[%d].Duration %v, want >= 1s (windows are 1 s)", i, st.Duration)
		}
	}
	if d := s.Duration(); d > MaxDuration {
		return fmt.Errorf("loadtest: schedule lasts %v, at most %v", d, MaxDuration)
	}
	return nil
}

// due is when arrival n (from 0) is due, measured from the start; ok is
// false past the end of the schedule.
func (s Schedule) due(n uint64) (time.Duration, bool) {
	var start time.Duration
	var before float64 // arrivals due before the stage
	for _, st := range s.Stages {
		in := st.Rate * st.Duration.Seconds()
		if float64(n) < before+in-1e-9 {
			return start + time.Duration((float64(n)-before)/st.Rate*float64(time.Second)), true
		}
		before += in
		start += st.Duration
	}
	return 0, false
}

// stage is the index of the stage that contains offset t (the last one
// for t past the end).
func (s Schedule) stage(t time.Duration) int {
	var end time.Duration
	for i, st := range s.Stages {
		end += st.Duration
		if t < end {
			return i
		}
	}
	return len(s.Stages) - 1
}

// pacer paces vegeta's attack by the schedule's due times.
type pacer struct{ s Schedule }

// Pace implements vegeta.Pacer: wait until arrival hits is due; stop after
// the last one.
func (p pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	d, ok := p.s.due(hits)
	if !ok {
		return 0, true
	}
	return d - elapsed, false
}

// Rate implements vegeta.Pacer.
func (p pacer) Rate(elapsed time.Duration) float64 {
	return p.s.Stages[p.s.stage(elapsed)].Rate
}
