package dbx_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
)

// logRecorder keeps the messages logged.
type logRecorder struct {
	mu   sync.Mutex
	msgs []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Clone())
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) find(msg string) (slog.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.msgs {
		if rec.Message == msg {
			return rec, true
		}
	}
	return slog.Record{}, false
}

const tooSmallMsg = "dbx: pool too small for its load (Little's law)"

// steadyLoad starts one call of SELECT pg_sleep(0.02) every interval (open
// loop: arrivals do not wait for completions, as real traffic does not)
// for about the given duration, and returns every window's reading taken
// while the load ran.
func steadyLoad(t *testing.T, ctx context.Context, c *dbx.Cluster, every, dur time.Duration) []dbx.Capacity {
	t.Helper()
	var wg sync.WaitGroup
	tick := time.NewTicker(every)
	defer tick.Stop()
	var readings []dbx.Capacity
	var last time.Duration
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		<-tick.C
		wg.Go(func() {
			// Shed and timed-out calls are part of the signal, not failures.
			_, _ = c.Exec(ctx, `SELECT pg_sleep(0.02)`)
		})
		if r := c.Primary().Capacity(); r.Window != 0 && r.Window != last {
			readings = append(readings, r)
			last = r.Window
		}
	}
	wg.Wait()
	return readings
}

func TestLittlesLawSignal(t *testing.T) {
	b := setup(t, nil)

	t.Run("fires when the pool is too small for a steady rate", func(t *testing.T) {
		logs := &logRecorder{}
		c := b.open(t, func(cfg *dbx.Config) {
			cfg.MaxConns = 2 // 20 ms holds: at most 100 calls/s
			cfg.MaxWaiters = 32
			cfg.CapacityWindow = 300 * time.Millisecond
			cfg.Logger = slog.New(logs)
		})
		// 250 calls/s x 20 ms = 5 connections needed, 2 available.
		readings := steadyLoad(t, b.ctx, c, 4*time.Millisecond, 1500*time.Millisecond)
		fired := false
		for _, r := range readings {
			if r.TooSmall {
				fired = true
				if r.Suggested <= r.Limit || r.Utilisation < budget.TargetUtilisation {
					t.Errorf("reading %+v: flagged, but suggests %d for a limit of %d", r, r.Suggested, r.Limit)
				}
			}
		}
		if !fired {
			t.Fatalf("no window flagged the pool as too small: %+v", readings)
		}
		rec, ok := logs.find(tooSmallMsg)
		if !ok {
			t.Fatal("no log line for a pool too small for its load")
		}
		attrs := map[string]any{}
		rec.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.Any(); return true })
		for _, k := range []string{"needed", "suggested", "limit", "budget_allows", "fix"} {
			if _, ok := attrs[k]; !ok {
				t.Errorf("log line lacks %q: %v", k, attrs)
			}
		}
		if attrs["budget_allows"] != false {
			t.Errorf("budget_allows = %v: the pool's MaxConns (2) is already the limit, so a larger size is over the budget", attrs["budget_allows"])
		}
	})

	t.Run("quiet when the pool serves the load", func(t *testing.T) {
		logs := &logRecorder{}
		c := b.open(t, func(cfg *dbx.Config) {
			cfg.MaxConns = 4
			cfg.CapacityWindow = 300 * time.Millisecond
			cfg.Logger = slog.New(logs)
		})
		// 20 calls/s x 20 ms = 0.4 connections needed, 4 available.
		readings := steadyLoad(t, b.ctx, c, 50*time.Millisecond, 1500*time.Millisecond)
		if len(readings) == 0 {
			t.Fatal("no reading was taken: the quiet case proves nothing")
		}
		for _, r := range readings {
			if r.TooSmall {
				t.Errorf("window flagged at 0.4 needed of 4: %+v", r)
			}
		}
		if _, ok := logs.find(tooSmallMsg); ok {
			t.Error("logged a pool too small for a light load")
		}
		mfs := gather(t, c)
		found := false
		for _, mf := range mfs {
			if mf.GetName() == "pgfleet_capacity_pool_too_small" {
				found = true
				if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 0 {
					t.Errorf("pgfleet_capacity_pool_too_small = %v", v)
				}
			}
		}
		if !found {
			t.Error("pgfleet_capacity_pool_too_small is not exported")
		}
	})
}

func TestLittlesLawFormula(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate float64
		hold time.Duration
		want float64
		size int
	}{
		{250, 20 * time.Millisecond, 5, 7},
		{20, 20 * time.Millisecond, 0.4, 1},
		{0, time.Second, 0, 1},
		{-1, time.Second, 0, 1},
		{1e300, time.Hour, 3.6e303, budget.MaxCount},
	} {
		got := budget.Concurrency(tc.rate, tc.hold)
		if got < tc.want*0.999 || got > tc.want*1.001 {
			t.Errorf("Concurrency(%v, %v) = %v, want %v", tc.rate, tc.hold, got, tc.want)
		}
		if s := budget.SizeForLoad(got); s != tc.size {
			t.Errorf("SizeForLoad(%v) = %d, want %d", got, s, tc.size)
		}
	}
}
