// Command dbxbench compares point-select throughput and latency of a
// dbx.Cluster, a raw pgxpool with the same pool size, and pgbench -S -M
// prepared with the same client count, in one run against one throwaway
// server started by topology. Rounds alternate between dbx and pgxpool so
// that drift on a shared machine hits both alike.
//
//	go run ./internal/cmd/dbxbench -clients 8 -duration 5s -rounds 3
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

const (
	scale    = 10 // pgbench scale: 1,000,000 accounts
	pointSQL = `SELECT abalance FROM pgbench_accounts WHERE aid = $1`
)

func main() {
	clients := flag.Int("clients", 8, "concurrent clients (and pool size)")
	duration := flag.Duration("duration", 5*time.Second, "length of one round")
	rounds := flag.Int("rounds", 3, "rounds per contender")
	sessionTimeouts := flag.Bool("session-timeouts", true, "run both contenders with dbx's default statement_timeout and idle_in_transaction_session_timeout (false: both with the server's defaults)")
	flag.Parse()
	if err := run(*clients, *duration, *rounds, *sessionTimeouts); err != nil {
		fmt.Fprintln(os.Stderr, "dbxbench:", err)
		os.Exit(1)
	}
}

// querier is what both contenders offer.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type result struct {
	name    string
	queries int
	elapsed time.Duration
	lat     []time.Duration
}

func (r *result) tps() float64 { return float64(r.queries) / r.elapsed.Seconds() }

func (r *result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	slices.Sort(r.lat)
	return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
}

func run(clients int, duration time.Duration, rounds int, sessionTimeouts bool) error {
	ctx := context.Background()
	topo, err := topology.Launch(ctx, topology.Topology{})
	if err != nil {
		return err
	}
	defer topo.Close()
	// The server's own pgbench: the same installation topology runs.
	pgbench, err := topology.Binary("pgbench")
	if err != nil {
		return err
	}
	conn, err := pgconn.ParseConfig(topo.Primary.DSN())
	if err != nil {
		return err
	}
	pgArgs := []string{"-h", conn.Host, "-p", strconv.Itoa(int(conn.Port)), "-U", conn.User}
	fmt.Printf("initializing pgbench scale %d on %s\n", scale, topo.Primary.DSN())
	if out, err := exec.Command(pgbench, append(append([]string{"-i", "-q", "-s", strconv.Itoa(scale)}, pgArgs...), "postgres")...).CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %v: %s", err, out)
	}

	poolCfg, err := pgxpool.ParseConfig(topo.Primary.DSN())
	if err != nil {
		return err
	}
	poolCfg.MaxConns, poolCfg.MinConns = int32(clients), int32(clients)
	if sessionTimeouts {
		// The same session as dbx's defaults: a server-side statement timer
		// costs the server a little on every statement, and both sides pay it.
		poolCfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(dbx.DefaultStatementTimeout.Milliseconds(), 10)
		poolCfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(dbx.DefaultIdleInTxTimeout.Milliseconds(), 10)
	}
	raw, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return err
	}
	defer raw.Close()
	cfg, err := dbx.ParseConfig(topo.Primary.DSN())
	if err != nil {
		return err
	}
	cfg.Service, cfg.MaxConns, cfg.MinConns = "dbxbench", clients, clients
	cfg.Logger = slog.New(slog.DiscardHandler)
	if !sessionTimeouts {
		cfg.StatementTimeout, cfg.IdleInTxTimeout = -1, -1
	}
	cluster, err := dbx.OpenConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer cluster.Close()

	// Warm both: connections open, statements prepared, pages cached.
	drive(ctx, "warm", raw, clients, time.Second)
	drive(ctx, "warm", cluster, clients, time.Second)

	total := map[string]*result{"dbx": {name: "dbx Cluster"}, "pgxpool": {name: "raw pgxpool"}}
	for i := range rounds {
		order := []string{"pgxpool", "dbx"}
		if i%2 == 1 {
			order = []string{"dbx", "pgxpool"}
		}
		for _, name := range order {
			var q querier = raw
			if name == "dbx" {
				q = cluster
			}
			r := drive(ctx, name, q, clients, duration)
			fmt.Printf("round %d %-8s %8.0f q/s  p50 %-9s p99 %s\n", i+1, name, r.tps(), r.pct(.5), r.pct(.99))
			t := total[name]
			t.queries += r.queries
			t.elapsed += r.elapsed
			t.lat = append(t.lat, r.lat...)
		}
	}
	pgb, err := runPgbench(pgbench, pgArgs, clients, duration*time.Duration(rounds))
	if err != nil {
		return err
	}

	d, p := total["dbx"], total["pgxpool"]
	fmt.Printf("\npoint select, %d clients, pool %d, %d x %s per Go contender (interleaved), session timeouts %t, loopback, client and server on one machine\n", clients, clients, rounds, duration, sessionTimeouts)
	fmt.Printf("%-26s %10s %10s %10s\n", "contender", "q/s", "p50", "p99")
	fmt.Printf("%-26s %10.0f %10s %10s\n", p.name, p.tps(), p.pct(.5), p.pct(.99))
	fmt.Printf("%-26s %10.0f %10s %10s\n", d.name, d.tps(), d.pct(.5), d.pct(.99))
	fmt.Printf("%-26s %10.0f %10s %10s\n", pgb.name, pgb.tps(), pgb.pct(.5), pgb.pct(.99))
	fmt.Printf("\ndbx / pgxpool throughput: %.3fx (target >= 0.97x)\n", d.tps()/p.tps())
	fmt.Printf("dbx / pgxpool p99 latency: %.3fx (target <= 1.05x)\n", float64(d.pct(.99))/float64(p.pct(.99)))
	fmt.Printf("pgxpool / pgbench throughput: %.3fx (pgbench is C and logs each transaction)\n", p.tps()/pgb.tps())
	return nil
}

// drive runs clients goroutines doing random point selects for d.
func drive(ctx context.Context, name string, q querier, clients int, d time.Duration) *result {
	res := &result{name: name}
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			lat := make([]time.Duration, 0, 1<<16)
			var bal int
			for {
				t0 := time.Now()
				if t0.After(deadline) {
					break
				}
				if err := q.QueryRow(ctx, pointSQL, 1+rng.IntN(scale*100000)).Scan(&bal); err != nil {
					fmt.Fprintln(os.Stderr, name, err)
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.queries += len(lat)
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// runPgbench runs pgbench with per-transaction logging so that its p50 and
// p99 come from the same kind of samples as ours.
func runPgbench(path string, conn []string, clients int, d time.Duration) (*result, error) {
	dir, err := os.MkdirTemp("", "dbxbench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := append([]string{"-S", "-M", "prepared", "-n", "-c", strconv.Itoa(clients), "-j", "2",
		"-T", strconv.Itoa(max(1, int(d.Seconds()))), "-l", "--log-prefix=" + filepath.Join(dir, "log")}, conn...)
	cmd := exec.Command(path, append(args, "postgres")...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("pgbench: %v: %s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("pgbench output without tps: %s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	res := &result{name: "pgbench -S -M prepared", elapsed: time.Second}
	res.queries = int(tps)
	logs, _ := filepath.Glob(filepath.Join(dir, "log*"))
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			return nil, err
		}
		// client_id transaction_no latency_us script_no epoch epoch_us
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			if us, err := strconv.ParseInt(f[2], 10, 64); err == nil {
				res.lat = append(res.lat, time.Duration(us)*time.Microsecond)
			}
		}
	}
	return res, nil
}
