package dbx_test

import (
	"math"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/dbx"
)

// Regression: Backoff<<(attempt-1) wrapped past ~42 attempts (5ms) and
// rand.Int64N panicked on the non-positive bound. The delay saturates at
// MaxBackoff for any attempt count and any durations.
func TestTxBackoffSaturates(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	for _, tc := range []struct {
		attempt             int
		base, ceiling, want time.Duration
	}{
		{1, 5 * ms, 250 * ms, 5 * ms},
		{2, 5 * ms, 250 * ms, 10 * ms},
		{6, 5 * ms, 250 * ms, 160 * ms},
		{7, 5 * ms, 250 * ms, 250 * ms},
		{42, 5 * ms, 250 * ms, 250 * ms},
		{43, 5 * ms, 250 * ms, 250 * ms},
		{64, 5 * ms, 250 * ms, 250 * ms},
		{1 << 40, 5 * ms, 250 * ms, 250 * ms},
		{math.MaxInt, 5 * ms, 250 * ms, 250 * ms},
		{math.MaxInt, 5 * ms, math.MaxInt64, math.MaxInt64},
		{math.MaxInt, math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{3, math.MaxInt64 / 3, math.MaxInt64, math.MaxInt64},
		{math.MaxInt, 5 * ms, -1, 0},
		{math.MaxInt, -5 * ms, 250 * ms, 0},
		{0, 5 * ms, 250 * ms, 5 * ms},
		{math.MinInt, 5 * ms, 250 * ms, 5 * ms},
	} {
		got := dbx.Backoff(tc.attempt, tc.base, tc.ceiling)
		if got != tc.want {
			t.Errorf("Backoff(%d, %s, %s) = %s, want %s", tc.attempt, tc.base, tc.ceiling, got, tc.want)
		}
		for range 100 {
			if d := dbx.Jitter(got); d < 0 || (got <= math.MaxInt64/2 && d > 2*got) {
				t.Fatalf("Jitter(%s) = %s, outside [0, 2x]", got, d)
			}
		}
	}
}
