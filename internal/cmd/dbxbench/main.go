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
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
	"github.com/pgfleet/pgfleet/internal/loadgen"
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
	name string
	loadgen.Result
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

	poolCfg, err := loadgen.PoolConfig(topo.Primary.DSN(), clients)
	if err != nil {
		return err
	}
	if sessionTimeouts {
		// The same session as dbx's defaults: a server-side statement timer
		// costs the server a little on every statement, and both sides pay it.
		loadgen.DBXSessionTimeouts(poolCfg)
	}
	raw, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return err
	}
	defer raw.Close()
	cfg, err := loadgen.ClusterConfig(topo.Primary.DSN(), "dbxbench", clients)
	if err != nil {
		return err
	}
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
			fmt.Printf("round %d %-8s %8.0f q/s  p50 %-9s p99 %s\n", i+1, name, r.TPS(), r.Pct(.5), r.Pct(.99))
			total[name].Add(r.Result)
		}
	}
	pgb, err := runPgbench(pgbench, pgArgs, clients, duration*time.Duration(rounds))
	if err != nil {
		return err
	}

	d, p := total["dbx"], total["pgxpool"]
	fmt.Printf("\npoint select, %d clients, pool %d, %d x %s per Go contender (interleaved), session timeouts %t, loopback, client and server on one machine\n", clients, clients, rounds, duration, sessionTimeouts)
	fmt.Printf("%-26s %10s %10s %10s\n", "contender", "q/s", "p50", "p99")
	fmt.Printf("%-26s %10.0f %10s %10s\n", p.name, p.TPS(), p.Pct(.5), p.Pct(.99))
	fmt.Printf("%-26s %10.0f %10s %10s\n", d.name, d.TPS(), d.Pct(.5), d.Pct(.99))
	fmt.Printf("%-26s %10.0f %10s %10s\n", pgb.name, pgb.TPS(), pgb.Pct(.5), pgb.Pct(.99))
	fmt.Printf("\ndbx / pgxpool throughput: %.3fx (target >= 0.97x)\n", d.TPS()/p.TPS())
	fmt.Printf("dbx / pgxpool p99 latency: %.3fx (target <= 1.05x)\n", float64(d.Pct(.99))/float64(p.Pct(.99)))
	fmt.Printf("pgxpool / pgbench throughput: %.3fx (pgbench is C and logs each transaction)\n", p.TPS()/pgb.TPS())
	return nil
}

// drive runs clients goroutines doing random point selects for d.
func drive(ctx context.Context, name string, q querier, clients int, d time.Duration) *result {
	return &result{name: name, Result: loadgen.Drive(name, clients, d, scale*100000, func(id int) error {
		var bal int
		return q.QueryRow(ctx, pointSQL, id).Scan(&bal)
	})}
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
	res := &result{name: "pgbench -S -M prepared"}
	res.Elapsed, res.Ops = time.Second, int(tps)
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
				res.Lat = append(res.Lat, time.Duration(us)*time.Microsecond)
			}
		}
	}
	return res, nil
}
