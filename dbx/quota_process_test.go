package dbx_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/dbx"
)

// The quota tests below run pods as separate OS processes: this test binary
// started again with QUOTA_CHILD set, which runs only TestQuotaChildProcess.
const (
	envChild      = "QUOTA_CHILD"       // "load" or "hold"
	envChildDSN   = "QUOTA_CHILD_DSN"   // the server
	envChildStart = "QUOTA_CHILD_START" // unix ms at which "load" starts, so that all children race
)

// TestQuotaChildProcess is one pod when QUOTA_CHILD is set; otherwise it is
// skipped (it is not a test of its own). The pod reads its declaration from
// the PGFLEET_* environment the parent gives it.
func TestQuotaChildProcess(t *testing.T) {
	mode := os.Getenv(envChild)
	if mode == "" {
		t.Skip("runs only as a child of the multi-process quota tests")
	}
	ctx := context.Background()
	cfg, err := dbx.ParseConfig(os.Getenv(envChildDSN))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Verify = dbx.VerifyOff // the pods' caps together exceed the server on purpose
	cfg.AcquireTimeout = 300 * time.Millisecond
	c, err := dbx.OpenConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	switch mode {
	case "hold":
		release := hold(t, ctx, c, c.Config().MaxConns)
		defer release()
		fmt.Printf("HELD %d\n", c.Config().MaxConns)
		time.Sleep(time.Hour) // until the parent kills us
	case "load":
		start, _ := strconv.ParseInt(os.Getenv(envChildStart), 10, 64)
		time.Sleep(time.Until(time.UnixMilli(start)))
		o := &outcome{}
		load(ctx, c, dbx.QuotaSpace(c.Config().Service), 8, 30, o)
		fmt.Printf("RESULT %d %d %d %d %d\n", o.ok.Load(), o.exhausted.Load(), o.serverFull.Load(), o.other.Load(), o.slotless.Load())
	}
}

// child starts one pod process with the given PGFLEET_* variables.
func child(t *testing.T, mode, dsn string, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestQuotaChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), append(env, envChild+"="+mode, envChildDSN+"="+dsn)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

// line returns the first line of out that starts with prefix.
func line(t *testing.T, out *bufio.Scanner, prefix string) string {
	t.Helper()
	for out.Scan() {
		if l := out.Text(); strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("child ended without a %q line: %v", prefix, out.Err())
	return ""
}

// Eight pod processes start at the same instant, each with a cap of 5 and 8
// busy workers, against a quota of 10 on a server with 25 connections: no
// 53300, and every connection that served a query held its own slot.
func TestQuotaMultiProcessStartupRace(t *testing.T) {
	b := setup(t, map[string]string{"max_connections": "25"})
	start := strconv.FormatInt(time.Now().Add(2*time.Second).UnixMilli(), 10)
	var outs []*bufio.Scanner
	for i := range 8 {
		_, out := child(t, "load", b.cluster.Primary.DSN(), "PGFLEET_SERVICE=race", "POD_NAME=pod-"+strconv.Itoa(i),
			"PGFLEET_QUOTA=10", "PGFLEET_POOL_MAX=5", envChildStart+"="+start)
		outs = append(outs, out)
	}
	// While they run, the server never shows more slots than the quota.
	conn := connect(t, b)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var peak int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			var n int
			if err := conn.QueryRow(b.ctx, slotsHeldSQL, int64(dbx.QuotaSpace("race"))).Scan(&n); err == nil {
				peak = max(peak, n)
			}
		}
	})
	var total [5]int
	for _, out := range outs {
		f := strings.Fields(line(t, out, "RESULT "))
		for i := range total {
			n, _ := strconv.Atoi(f[i+1])
			total[i] += n
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("8 processes: ok %d, exhausted %d, 53300 %d, other %d, without a slot %d; peak slots on the server %d",
		total[0], total[1], total[2], total[3], total[4], peak)
	if total[0] == 0 || total[2] != 0 || total[3] != 0 || total[4] != 0 || peak > 10 || peak == 0 {
		t.Fatal("the quota did not hold")
	}
}

// A pod killed with SIGKILL leaks no slot: the server ends its sessions and
// another pod of the service gets the slots.
func TestQuotaSlotsReturnOnSIGKILL(t *testing.T) {
	b := setup(t, nil)
	cmd, out := child(t, "hold", b.cluster.Primary.DSN(), "PGFLEET_SERVICE=killed", "POD_NAME=doomed", "PGFLEET_QUOTA=3", "PGFLEET_POOL_MAX=3")
	line(t, out, "HELD 3")
	survivor := b.quotaPod(t, "killed", "survivor", 3, 3, nil)
	if _, err := survivor.Exec(b.ctx, "SELECT 1"); !errors.Is(err, dbx.ErrPoolExhausted) {
		t.Fatalf("with the quota held by the other pod: %v, want ErrPoolExhausted", err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	eventually(t, func() error {
		_, err := survivor.Exec(b.ctx, "SELECT 1")
		return err
	})
	// All three slots come back: the survivor regrows to its cap (one probe
	// connect at a time).
	eventually(t, func() error {
		var conns []*dbx.Conn
		defer func() {
			for _, c := range conns {
				c.Release()
			}
		}()
		for range 3 {
			c, err := survivor.Acquire(b.ctx)
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	})
	t.Logf("slots back %s after SIGKILL", time.Since(killed).Round(time.Millisecond))
}
