// Command replicabench measures dbx's read replicas side by side, in one
// run against throwaway servers started by topology:
//
//   - routing: point selects through Cluster.Reader (one replica) vs a raw
//     pgxpool on that replica, same pool size and session settings, both
//     warmed, rounds alternating with the order flipped every round, client
//     CPU per query measured: the router's cost;
//
//   - hedging: with one of two replicas behind a TCP proxy that delays a
//     fraction of its replies, point selects through a plain Reader vs a
//     hedging Reader, rounds interleaved: p99 and the hedge rate;
//
//   - causal tokens: a one-row UPDATE committed with TxToken (COMMIT and
//     the WAL position in one round trip) vs Tx then Token (two) vs Tx
//     alone.
//
//     go run ./internal/cmd/replicabench -duration 3s -rounds 4
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
	"github.com/pgfleet/pgfleet/internal/loadgen"
)

const pointSQL = `SELECT v FROM kv WHERE k = $1`

func main() {
	clients := flag.Int("clients", 8, "concurrent clients in the routing comparison (and pool size)")
	hedgeClients := flag.Int("hedge-clients", 4, "concurrent clients in the hedging comparison")
	duration := flag.Duration("duration", 3*time.Second, "length of one round of the hedging comparison")
	rounds := flag.Int("rounds", 4, "rounds per contender of the hedging comparison")
	slot := flag.Duration("slot", 250*time.Millisecond, "routing: length of one contender's turn in a round")
	slots := flag.Int("slots", 80, "routing: rounds, each giving every contender one turn")
	fraction := flag.Float64("slow-fraction", 0.05, "fraction of the slow replica's replies the proxy delays")
	delay := flag.Duration("slow-delay", 20*time.Millisecond, "delay of those replies")
	commits := flag.Int("commits", 2000, "commits per causal-token contender")
	only := flag.String("only", "", "run one comparison: routing, hedging or tokens")
	control := flag.Bool("control", true, "routing: add a second raw pool, whose ratio to the first shows the method's noise floor")
	together := flag.Bool("together", false, "routing: run the contenders at the same time (each with its own clients and pool) instead of in alternating rounds")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the comparisons (setup excluded) to this file")
	flag.Parse()
	ctx := context.Background()
	topo, err := topology.Launch(ctx, topology.Topology{Replicas: 2})
	if err != nil {
		fail(err)
	}
	defer topo.Close()
	b := &bench{ctx: ctx, topo: topo, duration: *duration, rounds: *rounds, slot: *slot, slots: *slots, together: *together, control: *control}
	if err := b.setup(); err != nil {
		fail(err)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	for _, step := range []struct {
		name string
		run  func() error
	}{
		{"routing", func() error { return b.routing(*clients) }},
		{"hedging", func() error { return b.hedging(*hedgeClients, *fraction, *delay) }},
		{"tokens", func() error { return b.tokens(*commits) }},
	} {
		if *only != "" && step.name != *only {
			continue
		}
		if err := step.run(); err != nil {
			topo.Close()
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "replicabench:", err)
	os.Exit(1)
}

type bench struct {
	ctx      context.Context
	topo     *topology.Cluster
	duration time.Duration // hedging: one round
	rounds   int           // hedging: rounds
	slot     time.Duration // routing: one contender's turn
	slots    int           // routing: rounds of turns
	together bool          // routing: contenders at the same time
	control  bool          // routing: an A/A control contender
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// result is one contender's latencies over all its rounds.
type result struct {
	name    string
	elapsed time.Duration
	lat     []time.Duration
	cpu     time.Duration // this process's CPU time over the rounds, when measured
}

func (r *result) add(o *result) {
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
	r.cpu += o.cpu
}

// cpuPerQuery is the process's CPU time per query over the rounds.
func (r *result) cpuPerQuery() time.Duration { return r.cpu / time.Duration(max(len(r.lat), 1)) }

func (r *result) pct(p float64) time.Duration { return loadgen.Percentile(r.lat, p) }

func (r *result) qps() float64 { return float64(len(r.lat)) / r.elapsed.Seconds() }

func (b *bench) setup() error {
	if _, err := b.exec(`CREATE TABLE kv AS SELECT g AS k, g::text AS v FROM generate_series(1, 10000) g; ALTER TABLE kv ADD PRIMARY KEY (k); CREATE TABLE counter (id int PRIMARY KEY, v int); INSERT INTO counter VALUES (1, 0)`); err != nil {
		return err
	}
	var lsn string
	conn, err := b.topo.Primary.Connect(b.ctx)
	if err != nil {
		return err
	}
	defer conn.Close(b.ctx)
	if err := conn.QueryRow(b.ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		return err
	}
	for _, r := range b.topo.Replicas {
		if err := r.WaitReplay(b.ctx, lsn); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) exec(sql string) (any, error) {
	conn, err := b.topo.Primary.Connect(b.ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(b.ctx)
	return conn.Exec(b.ctx, sql)
}

// open opens a Cluster over the primary and the given replicas.
func (b *bench) open(conns int, replicas ...*topology.Node) (*dbx.Cluster, error) {
	cfg, err := b.config(b.topo.Primary, conns)
	if err != nil {
		return nil, err
	}
	for _, r := range replicas {
		cfg.ReadReplicas.DSNs = append(cfg.ReadReplicas.DSNs, r.DSN())
	}
	return dbx.OpenConfig(b.ctx, cfg)
}

// openOn opens a Cluster whose only node is n, replicas configured none.
func (b *bench) openOn(n *topology.Node, conns int) (*dbx.Cluster, error) {
	cfg, err := b.config(n, conns)
	if err != nil {
		return nil, err
	}
	return dbx.OpenConfig(b.ctx, cfg)
}

func (b *bench) config(n *topology.Node, conns int) (*dbx.Config, error) {
	cfg, err := dbx.ParseConfig(n.DSN())
	if err != nil {
		return nil, err
	}
	cfg.MaxConns, cfg.Logger, cfg.Service = conns, slog.New(slog.DiscardHandler), "replicabench"
	cfg.MaxWaiters = 1 << 10
	return cfg, nil
}

// drive runs clients goroutines of point selects on q for the round's
// length and appends their latencies to res.
func (b *bench) drive(q querier, clients int, res *result) error {
	return b.driveFor(q, clients, b.duration, res)
}

// driveFor is drive for d.
func (b *bench) driveFor(q querier, clients int, d time.Duration, res *result) error {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first atomic.Value
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	// The contender's name labels its goroutines' samples in -cpuprofile
	// (go tool pprof -tagfocus contender=...): each one's CPU apart, also
	// when they run together.
	labels := pprof.Labels("contender", res.name)
	for c := range clients {
		wg.Go(func() {
			pprof.SetGoroutineLabels(pprof.WithLabels(b.ctx, labels))
			var lat []time.Duration
			var v string
			for i := c; time.Now().Before(deadline); i += clients {
				t0 := time.Now()
				if err := q.QueryRow(b.ctx, pointSQL, 1+i%10000).Scan(&v); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed += time.Since(start)
	if err, _ := first.Load().(error); err != nil {
		return fmt.Errorf("%s: %w", res.name, err)
	}
	return nil
}

// routing compares a raw pgxpool on one replica with Cluster.Reader over
// that replica, and with a Cluster whose only node is that replica (dbx's
// gate, class and tracer without the router), so that the router's cost
// shows apart from what every dbx read costs. The method is built so that
// the machine's noise falls on every side alike: the same pool size,
// session settings, query and number of clients; each contender warmed
// first (connections opened, statements prepared), the warm-up not counted;
// many short rounds (-slots of -slot each per contender: the noise of a
// shared machine drifts over seconds, and contenders a quarter second apart
// meet the same), each contender first in turn, so that drift and the
// after-effects of the previous turn hit all of them; per-round ratios,
// their median and quartiles next to the ratio of the totals (a stall of
// one client in one round moves a total, not a median); and each side's client CPU per
// query (this process's user + system time over its rounds), which other
// processes' load inflates far less than wall-clock throughput. With
// -together the contenders run at the same time instead, each with its own
// clients and pool, so that every instant of noise falls on all of them.
func (b *bench) routing(clients int) error {
	replica := b.topo.Replicas[0]
	cl, err := b.open(clients, replica)
	if err != nil {
		return err
	}
	defer cl.Close()
	// The raw pool gets the session dbx gives its connections.
	pc, err := pgxpool.ParseConfig(replica.DSN())
	if err != nil {
		return err
	}
	pc.MaxConns = int32(clients)
	loadgen.DBXSessionTimeouts(pc)
	raw, err := pgxpool.NewWithConfig(b.ctx, pc)
	if err != nil {
		return err
	}
	defer raw.Close()
	node, err := b.openOn(replica, clients)
	if err != nil {
		return err
	}
	defer node.Close()
	qs := []querier{raw, cl.Reader(), node}
	res := []*result{{name: "raw pgxpool on the replica"}, {name: "Cluster.Reader"}, {name: "Cluster on the replica"}}
	if b.control {
		// A/A control: a second raw pool, the same as the first. Its
		// ratio to the first is the method's noise floor on this machine.
		raw2, err := pgxpool.NewWithConfig(b.ctx, pc)
		if err != nil {
			return err
		}
		defer raw2.Close()
		qs, res = append(qs, raw2), append(res, &result{name: "raw pgxpool again (control)"})
	}
	warm := max(4*b.slot, time.Second)
	for i, q := range qs {
		if err := b.driveFor(q, clients, warm, &result{name: res[i].name + " (warm-up)"}); err != nil {
			return err
		}
	}
	ratios := make([][]float64, len(qs)) // per contender, its per-round throughput over raw's
	var routed []float64                 // per round, the Reader's throughput over the Cluster on the replica's
	for r := range b.slots {
		round := make([]result, len(qs))
		for i := range round {
			round[i].name = res[i].name
		}
		if err := b.round(r, clients, qs, round); err != nil {
			return err
		}
		for i := range res {
			ratios[i] = append(ratios[i], round[i].qps()/round[0].qps())
			res[i].add(&round[i])
		}
		routed = append(routed, round[1].qps()/round[2].qps())
	}
	how := "rounds alternating, each contender first in turn"
	if b.together {
		how = "all contenders at the same time, each with its own clients and pool"
	}
	fmt.Printf("routing: point selects on one replica, %d clients, pool %d, %d x %s per contender after a %s warm-up each, %s\n",
		clients, clients, b.slots, b.slot, warm, how)
	table(res)
	for i := 1; i < len(res); i++ {
		q1, q3 := quartiles(ratios[i])
		fmt.Printf("%s / raw: per round median %.3fx (quartiles %.3f-%.3f), all rounds %.3fx, p99 %.3fx", res[i].name, median(ratios[i]), q1, q3,
			res[i].qps()/res[0].qps(), float64(res[i].pct(0.99))/float64(res[0].pct(0.99)))
		if !b.together {
			fmt.Printf(", client CPU per query %v (%.3fx)", res[i].cpuPerQuery().Round(10*time.Nanosecond), float64(res[i].cpuPerQuery())/float64(res[0].cpuPerQuery()))
		}
		fmt.Println()
	}
	if !b.together {
		fmt.Printf("raw pgxpool client CPU per query: %v\n", res[0].cpuPerQuery().Round(10*time.Nanosecond))
	}
	q1, q3 := quartiles(routed)
	fmt.Printf("routing overhead, Cluster.Reader / the same dbx pool straight on the replica: median of rounds %.3fx (quartiles %.3f-%.3f), all rounds %.3fx (target >= 0.97x)\n",
		median(routed), q1, q3, res[1].qps()/res[2].qps())
	fmt.Printf("dbx's pool itself, Cluster on the replica / raw pgxpool: median of rounds %.3fx, all rounds %.3fx; Reader / raw pgxpool: median %.3fx, all rounds %.3fx\n",
		median(ratios[2]), res[2].qps()/res[0].qps(), median(ratios[1]), res[1].qps()/res[0].qps())
	// A read that fell back to the primary (the replica out of the
	// rotation after a slow poll on a loaded machine) is not a replica read:
	// say how many there were.
	st := cl.ReadStats()
	fmt.Printf("Reader reads: %v, fallbacks %v\n\n", st.Reads, st.Fallbacks)
	return nil
}

// round runs round r of every contender into out: one after the other,
// contender r%len(qs) first, with the process's CPU time of each; or, with
// -together, all at once (the CPU time cannot be told apart then).
func (b *bench) round(r, clients int, qs []querier, out []result) error {
	if b.together {
		errs := make([]error, len(qs))
		var wg sync.WaitGroup
		for i := range qs {
			wg.Go(func() { errs[i] = b.driveFor(qs[i], clients, b.slot, &out[i]) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	for k := range qs {
		i := (k + r) % len(qs)
		before := loadgen.ProcessCPU()
		if err := b.driveFor(qs[i], clients, b.slot, &out[i]); err != nil {
			return err
		}
		out[i].cpu = loadgen.ProcessCPU() - before
	}
	return nil
}

// quartiles are the 25th and 75th percentiles of xs (nearest rank).
func quartiles(xs []float64) (float64, float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0, 0
	}
	return s[len(s)/4], s[(3*len(s))/4]
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (b *bench) hedging(clients int, fraction float64, delay time.Duration) error {
	slow := b.topo.Replicas[0]
	u, err := url.Parse(slow.DSN())
	if err != nil {
		return err
	}
	proxy, err := newSlowProxy(u.Host, fraction, delay)
	if err != nil {
		return err
	}
	defer proxy.close()
	slowDSN, err := proxy.dsn(slow.DSN())
	if err != nil {
		return err
	}
	cl, err := b.open(clients*2, topology.NodeForDSN(slowDSN), b.topo.Replicas[1])
	if err != nil {
		return err
	}
	defer cl.Close()
	plain, hedged := cl.Reader(), cl.ReaderWith(dbx.ReadOptions{Hedge: true})
	// Learn the hedge delay first.
	if err := b.drive(hedged, clients, &result{name: "warm-up"}); err != nil {
		return err
	}
	before := cl.ReadStats()
	// Each contender's reads by replica: where power of two choices sent
	// them (a read held by the proxy keeps the slow replica busy).
	byNode := [2]map[string]int64{{}, {}}
	res := []*result{{name: "Reader"}, {name: "Reader, Hedge"}}
	qs := []querier{plain, hedged}
	for r := range b.rounds {
		for k := range qs {
			i := (k + r) % len(qs)
			s0 := cl.ReadStats()
			if err := b.drive(qs[i], clients, res[i]); err != nil {
				return err
			}
			for n, v := range cl.ReadStats().Reads {
				byNode[i][n] += v - s0.Reads[n]
			}
		}
	}
	after := cl.ReadStats()
	reads, sent, won := after.HedgeReads-before.HedgeReads, after.HedgesSent-before.HedgesSent, after.HedgesWon-before.HedgesWon
	fmt.Printf("hedging: 2 replicas, replica0 behind a proxy that delays %.1f%% of its replies by %s, %d clients, %d x %s per contender (interleaved), HedgeBudget 5%%\n", 100*fraction, delay, clients, b.rounds, b.duration)
	table(res)
	fmt.Printf("hedged / plain p99: %.3fx, p99.9: %.3fx, throughput %.3fx; hedges sent %d of %d hedged reads (%.2f%%), won %d; hedge delay at the end %s\n",
		float64(res[1].pct(0.99))/float64(res[0].pct(0.99)), float64(res[1].pct(0.999))/float64(res[0].pct(0.999)), res[1].qps()/res[0].qps(),
		sent, reads, 100*float64(sent)/float64(max(reads, 1)), won, after.HedgeDelay)
	for i, r := range res {
		fmt.Printf("%s: reads (hedges included) by node:", r.name)
		for _, n := range cl.Nodes() {
			fmt.Printf(" %s %d", n.Name(), byNode[i][n.Name()])
		}
		fmt.Println()
	}
	fmt.Println()
	return nil
}

func table(res []*result) {
	fmt.Printf("%-28s %9s %11s %11s %11s %11s\n", "contender", "q/s", "p50", "p99", "p99.9", "max")
	for _, r := range res {
		fmt.Printf("%-28s %9.0f %11s %11s %11s %11s\n", r.name, r.qps(), r.pct(0.5).Round(time.Microsecond),
			r.pct(0.99).Round(time.Microsecond), r.pct(0.999).Round(time.Microsecond), r.pct(1).Round(time.Microsecond))
	}
}

func (b *bench) tokens(commits int) error {
	cl, err := b.open(2, b.topo.Replicas...)
	if err != nil {
		return err
	}
	defer cl.Close()
	update := func(tx pgx.Tx) error {
		_, err := tx.Exec(b.ctx, `UPDATE counter SET v = v + 1 WHERE id = 1`)
		return err
	}
	contenders := []struct {
		name string
		run  func() error
	}{
		{"Tx (no token)", func() error { return cl.Tx(b.ctx, update) }},
		{"Tx, then Token", func() error {
			if err := cl.Tx(b.ctx, update); err != nil {
				return err
			}
			_, err := cl.Token(b.ctx)
			return err
		}},
		{"TxToken", func() error { _, err := cl.TxToken(b.ctx, dbx.TxOptions{}, update); return err }},
	}
	res := make([]*result, len(contenders))
	for i, c := range contenders {
		res[i] = &result{name: c.name}
	}
	for range 4 {
		for i, c := range contenders {
			start := time.Now()
			for range commits / 4 {
				t0 := time.Now()
				if err := c.run(); err != nil {
					return err
				}
				res[i].lat = append(res[i].lat, time.Since(t0))
			}
			res[i].elapsed += time.Since(start)
		}
	}
	fmt.Printf("causal tokens: one-row UPDATE per transaction, sequential, %d per contender (interleaved)\n", commits)
	table(res)
	fmt.Printf("TxToken / Tx p50: %.3fx; Tx+Token / Tx p50: %.3fx\n", float64(res[2].pct(0.5))/float64(res[0].pct(0.5)), float64(res[1].pct(0.5))/float64(res[0].pct(0.5)))
	return nil
}
