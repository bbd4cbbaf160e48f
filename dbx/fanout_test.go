package dbx_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pgfleet/pgfleet/dbx"
)

func TestFanOut(t *testing.T) {
	b := setup(t, nil)
	c := b.open(t, func(cfg *dbx.Config) {
		cfg.MaxConns = 4
		cfg.FanOutLimit = 2
		cfg.Classes = []dbx.Class{{Name: "inventory"}, {Name: "pricing"}}
	})

	t.Run("inventory and pricing in parallel, each under its class", func(t *testing.T) {
		// Each branch waits for the other to have started: run one after
		// the other, they would wait until the test's deadline.
		started := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
		branch := func(i int, class string) dbx.Branch {
			return dbx.Branch{Class: class, Run: func(ctx context.Context) error {
				close(started[i])
				select {
				case <-started[1-i]:
				case <-ctx.Done():
					return ctx.Err()
				}
				if got := dbx.ClassOf(ctx); got != class {
					t.Errorf("branch %d runs under class %q, want %q", i, got, class)
				}
				_, err := c.Exec(ctx, `SELECT 1`)
				return err
			}}
		}
		if err := c.FanOut(b.ctx, branch(0, "inventory"), branch(1, "pricing")); err != nil {
			t.Fatal(err)
		}
		for _, st := range c.ClassStats() {
			if (st.Class.Name == "inventory" || st.Class.Name == "pricing") && st.Calls != 1 {
				t.Errorf("class %s recorded %d calls, want 1", st.Class.Name, st.Calls)
			}
		}
	})

	t.Run("bounded by FanOutLimit", func(t *testing.T) {
		var running, peak, ran atomic.Int64
		var branches []dbx.Branch
		for range 8 {
			branches = append(branches, dbx.Branch{Run: func(ctx context.Context) error {
				n := running.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				defer running.Add(-1)
				ran.Add(1)
				_, err := c.Exec(ctx, `SELECT pg_sleep(0.01)`)
				return err
			}})
		}
		if err := c.FanOut(b.ctx, branches...); err != nil {
			t.Fatal(err)
		}
		if ran.Load() != 8 || peak.Load() > 2 {
			t.Fatalf("%d branches ran, at most %d at once: want 8, at most 2", ran.Load(), peak.Load())
		}
	})

	t.Run("the first failure cancels the others", func(t *testing.T) {
		boom := errors.New("pricing service down")
		var slowErr error
		slowStarted := make(chan struct{})
		err := c.FanOut(b.ctx,
			dbx.Branch{Class: "pricing", Run: func(context.Context) error { <-slowStarted; return boom }},
			dbx.Branch{Class: "inventory", Run: func(ctx context.Context) error {
				close(slowStarted)
				_, slowErr = c.Exec(ctx, `SELECT pg_sleep(60)`)
				return slowErr
			}},
		)
		var be *dbx.BranchError
		if !errors.As(err, &be) || !errors.Is(err, boom) || be.Index != 0 || be.Class != "pricing" {
			t.Fatalf("err = %v, want the pricing branch's failure", err)
		}
		if !dbx.IsQueryCanceled(slowErr) && !errors.Is(slowErr, context.Canceled) {
			t.Fatalf("the other branch returned %v: want it cancelled", slowErr)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		if err := c.FanOut(b.ctx, dbx.Branch{Class: "pricing"}); err == nil || !strings.Contains(err.Error(), "has no Run function") {
			t.Errorf("nil Run: %v", err)
		}
		many := make([]dbx.Branch, dbx.MaxFanOutBranches+1)
		if err := c.FanOut(b.ctx, many...); err == nil || !strings.Contains(err.Error(), "batch the work") {
			t.Errorf("too many branches: %v", err)
		}
	})

	t.Run("a panic reaches the caller", func(t *testing.T) {
		defer func() {
			if p := recover(); p != "bug" {
				t.Fatalf("recovered %v, want the branch's panic", p)
			}
		}()
		_ = c.FanOut(b.ctx, dbx.Branch{Run: func(context.Context) error { panic("bug") }})
		t.Fatal("FanOut returned after a branch panicked")
	})
}
