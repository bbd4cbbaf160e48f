package loadtest

import (
	"testing"
	"time"
)

// The pacer's due times and Arrivals agree, across stages and with
// fractional totals.
func TestScheduleDueTimes(t *testing.T) {
	t.Parallel()
	s := Schedule{Stages: []Stage{{Rate: 2.5, Duration: time.Second}, {Rate: 10, Duration: 2 * time.Second}, {Rate: 1, Duration: 1500 * time.Millisecond}}}
	var n uint64
	var prev time.Duration
	for ; ; n++ {
		d, ok := s.due(n)
		if !ok {
			break
		}
		if d < prev || d >= s.Duration() {
			t.Fatalf("arrival %d due at %v after %v (schedule %v)", n, d, prev, s.Duration())
		}
		prev = d
	}
	// 2.5 + 20 + 1.5 arrivals: 0-2 in the first stage, 3-22 in the
	// second, 23 in the third.
	if n != s.Arrivals() || n != 24 {
		t.Fatalf("%d arrivals due, Arrivals() = %d, want 24", n, s.Arrivals())
	}
	// Arrival 3 is 0.5 arrivals into the second stage: 50 ms at 10/s.
	if d, _ := s.due(3); d != time.Second+50*time.Millisecond {
		t.Fatalf("arrival 3 due at %v", d)
	}
	p := pacer{s}
	if w, stop := p.Pace(0, 0); w != 0 || stop {
		t.Fatalf("first arrival: wait %v stop %v", w, stop)
	}
	if _, stop := p.Pace(5*time.Second, 24); !stop {
		t.Fatal("pacer did not stop after the last arrival")
	}
	if p.Rate(1500*time.Millisecond) != 10 || s.stage(10*time.Second) != 2 {
		t.Fatal("rate or stage lookup")
	}
}
