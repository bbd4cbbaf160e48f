package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
)

// A pod is this program started again with -pod: one OS process with its own
// pool and application_name, so that SIGKILL is real. It reads one line per
// request from stdin ("r"; "q" to drain and exit), runs each request in a
// goroutine of its own as it arrives (open model: nothing holds arrivals
// back), and writes one line of counts and latencies per second to stdout.

// podConfig is what the orchestrator passes on the command line.
type podConfig struct {
	mode, dsn, name string
	pool            int           // naive: fixed pool; budgeted: cap
	hold            time.Duration // server time of one request
	deadline        time.Duration // a request's whole budget
	quota, maxPods  int
	idle            time.Duration // budgeted: MaxConnIdleTime, how fast slots return
}

// querier is the one call a pod makes, with its pool behind it.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Close()
}

func openPod(ctx context.Context, pc podConfig) (querier, error) {
	switch pc.mode {
	case "naive":
		// What HikariCP does with minimumIdle = maximumPoolSize: a fixed
		// pool, opened in full and kept open.
		cfg, err := pgxpool.ParseConfig(pc.dsn)
		if err != nil {
			return nil, err
		}
		cfg.MaxConns, cfg.MinConns = int32(pc.pool), int32(pc.pool)
		cfg.HealthCheckPeriod = time.Second
		cfg.ConnConfig.RuntimeParams["application_name"] = "fleetsim/" + pc.name
		return pgxpool.NewWithConfig(ctx, cfg)
	case "budgeted":
		cfg, err := dbx.ParseConfig(pc.dsn)
		if err != nil {
			return nil, err
		}
		cfg.Service, cfg.Pod = "fleetsim", pc.name
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.MaxConns, cfg.Quota, cfg.QuotaMin = pc.pool, pc.quota, 1
		cfg.Fleet = budget.Service{Replicas: 3, MaxReplicas: pc.maxPods, NoSurge: true}
		cfg.AcquireTimeout = pc.deadline
		cfg.MaxConnIdleTime, cfg.HealthCheckPeriod = pc.idle, pc.idle/4
		return dbx.OpenConfig(ctx, cfg)
	}
	return nil, fmt.Errorf("fleetsim: -mode %q: use naive or budgeted", pc.mode)
}

// counts is one second of a pod's work.
type counts struct {
	ok, shed, full, other int
	lat                   []time.Duration // of the requests that succeeded
}

// runPod serves requests from in until "q" or EOF and reports to out.
func runPod(ctx context.Context, pc podConfig, in io.Reader, out io.Writer) error {
	db, err := openPod(ctx, pc)
	if err != nil {
		return fmt.Errorf("fleetsim: pod %s: %w", pc.name, err)
	}
	defer db.Close()
	var mu sync.Mutex
	var cur counts
	sql := fmt.Sprintf("SELECT pg_sleep(%g)", pc.hold.Seconds())
	serve := func() {
		rctx, cancel := context.WithTimeout(ctx, pc.deadline)
		defer cancel()
		start := time.Now()
		_, err := db.Exec(rctx, sql)
		took := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			cur.ok++
			cur.lat = append(cur.lat, took)
		case dbx.IsServerFull(err):
			cur.full++
		case errors.Is(err, dbx.ErrPoolExhausted), errors.Is(err, context.DeadlineExceeded):
			cur.shed++ // no connection within the request's deadline
		default:
			cur.other++
		}
	}
	done := make(chan struct{})
	var flushed sync.WaitGroup
	flushed.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-done:
			}
			mu.Lock()
			c := cur
			cur = counts{}
			mu.Unlock()
			writeCounts(out, c)
			select {
			case <-done:
				return
			default:
			}
		}
	})
	var wg sync.WaitGroup
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if sc.Text() == "q" {
			break
		}
		wg.Go(serve)
	}
	wg.Wait()
	close(done)
	flushed.Wait()
	return nil
}

// writeCounts writes "s ok shed full other lat_us..." as one line.
func writeCounts(w io.Writer, c counts) {
	var b strings.Builder
	fmt.Fprintf(&b, "s %d %d %d %d", c.ok, c.shed, c.full, c.other)
	for _, d := range c.lat {
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(d.Microseconds(), 10))
	}
	b.WriteByte('\n')
	_, _ = io.WriteString(w, b.String())
}

// parseCounts reads a line writeCounts wrote; ok is false for anything else.
func parseCounts(line string) (c counts, ok bool) {
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "s" {
		return c, false
	}
	nums := make([]int64, len(f)-1)
	for i, s := range f[1:] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return c, false
		}
		nums[i] = n
	}
	c.ok, c.shed, c.full, c.other = int(nums[0]), int(nums[1]), int(nums[2]), int(nums[3])
	for _, us := range nums[4:] {
		c.lat = append(c.lat, time.Duration(us)*time.Microsecond)
	}
	return c, true
}

func podMain(ctx context.Context, pc podConfig) {
	if err := runPod(ctx, pc, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
