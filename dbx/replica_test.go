package dbx_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/loader"
)

// A Reader is sqlc's DBTX (and its batch variant's SendBatch) and loader's
// Querier: generated read queries and loaders take it as is.
var (
	_ DBTX           = (*dbx.Reader)(nil)
	_ loader.Querier = (*dbx.Reader)(nil)
	_ interface {
		SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
	} = (*dbx.Reader)(nil)
)

// setupReplicas starts a primary with n streaming replicas.
func setupReplicas(t *testing.T, n int) bundle {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return bundle{ctx: ctx, cluster: dbxtest.Start(t, dbxtest.Topology{Replicas: n})}
}

// openReplicas opens a Cluster over the bundle's primary and replicas, with
// fast polling so that tests see changes quickly.
func (b bundle) openReplicas(t *testing.T, mutate func(*dbx.Config)) *dbx.Cluster {
	t.Helper()
	return b.open(t, func(cfg *dbx.Config) {
		for _, r := range b.cluster.Replicas {
			cfg.ReadReplicas.DSNs = append(cfg.ReadReplicas.DSNs, r.DSN())
		}
		cfg.ReadReplicas.PollInterval = 20 * time.Millisecond
		cfg.ReadReplicas.PollTimeout = 200 * time.Millisecond
		if mutate != nil {
			mutate(cfg)
		}
	})
}

// where reports whether a read ran on a replica, and on which port.
func where(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (replica bool, port int, err error) {
	err = q.QueryRow(ctx, `SELECT pg_is_in_recovery(), inet_server_port()`).Scan(&replica, &port)
	return replica, port, err
}

func state(c *dbx.Cluster, node string) dbx.ReplicaState {
	for _, s := range c.Replicas() {
		if s.Node == node {
			return s
		}
	}
	return dbx.ReplicaState{}
}

func TestReaderReadsOnReplicasAndRefusesWrites(t *testing.T) {
	b := setupReplicas(t, 2)
	c := b.openReplicas(t, nil)
	if len(c.Nodes()) != 3 || c.Nodes()[1].Name() != "replica0" || c.Nodes()[2].Name() != "replica1" {
		t.Fatalf("nodes = %v", c.Nodes())
	}
	r := c.Reader()
	ports := map[int]int{}
	for range 40 {
		onReplica, port, err := where(b.ctx, r)
		if err != nil || !onReplica {
			t.Fatalf("read ran on replica=%v: %v", onReplica, err)
		}
		ports[port]++
	}
	if len(ports) != 2 {
		t.Fatalf("reads by port = %v: want both replicas used", ports)
	}
	if st := c.ReadStats(); st.Reads["replica0"]+st.Reads["replica1"] != 40 || st.Reads["primary"] != 0 {
		t.Fatalf("stats = %+v", st)
	}

	// A write through a Reader fails on the replica (25006)...
	_, err := r.Exec(b.ctx, `CREATE TABLE nope (id int)`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("write through a Reader: %v, want 25006 naming the replica", err)
	}
	// ...and on the primary when it falls back there: no replica configured.
	plain := b.open(t, func(cfg *dbx.Config) { cfg.Name = "plain" })
	if _, err := plain.Reader().Exec(b.ctx, `CREATE TABLE nope (id int)`); !errors.As(err, &pgErr) || pgErr.Code != "25006" {
		t.Fatalf("write through a Reader on the primary: %v, want 25006", err)
	}
	if tag, err := plain.Reader().Exec(b.ctx, `SELECT 1`); err != nil || tag.String() != "SELECT 1" {
		t.Fatalf("read-only Exec on the primary = %q, %v", tag, err)
	}
	onReplica, _, err := where(b.ctx, plain.Reader())
	if err != nil || onReplica {
		t.Fatalf("no replicas configured: replica=%v, %v, want the primary", onReplica, err)
	}

	// A read-only transaction is pinned to one replica.
	err = r.Tx(b.ctx, func(tx pgx.Tx) error {
		_, first, err := where(b.ctx, tx)
		if err != nil {
			return err
		}
		for range 5 {
			onReplica, port, err := where(b.ctx, tx)
			if err != nil || !onReplica || port != first {
				t.Errorf("in the transaction: replica=%v port %d (first %d), %v", onReplica, port, first, err)
			}
		}
		var ro string
		return tx.QueryRow(b.ctx, `SHOW transaction_read_only`).Scan(&ro)
	})
	if err != nil {
		t.Fatal(err)
	}
	// SendBatch goes to a replica; every slot is back.
	batch := &pgx.Batch{}
	batch.Queue(`SELECT pg_is_in_recovery()`)
	br := r.SendBatch(b.ctx, batch)
	var inRecovery bool
	if err := br.QueryRow().Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("batch: in recovery %v, %v", inRecovery, err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes() {
		// The poller holds a slot for the length of a poll.
		waitFor(t, n.Name()+"'s slots back", func() bool { return n.Stat().Gate.InUse == 0 })
	}
}

// An idle primary is not lag: the replica's last replayed commit grows old
// while nothing is written, and its lag stays 0.
func TestIdlePrimaryIsNoLag(t *testing.T) {
	b := setupReplicas(t, 1)
	c := b.openReplicas(t, func(cfg *dbx.Config) { cfg.ReadReplicas.MaxLagTime = 50 * time.Millisecond })
	if _, err := c.Exec(b.ctx, `CREATE TABLE t (id int)`); err != nil {
		t.Fatal(err)
	}
	waitReplayAge(t, b.ctx, c.Nodes()[1], 200*time.Millisecond)
	polled := time.Now()
	waitFor(t, "a poll after that", func() bool { return state(c, "replica0").Polled.After(polled) })
	if st := state(c, "replica0"); !st.InRotation || st.LagBytes != 0 || st.LagTime != 0 || !st.InRecovery {
		t.Fatalf("idle: %+v, want in rotation with lag 0", st)
	}
}

// A quiet primary's WAL without a commit is not lag until the replica stays
// behind: the replica's last replayed commit is older than MaxLagTime, its
// replay is paused and the primary writes a non-transactional message, so
// every poll finds it behind. It stays in the rotation for MaxLagTime, then
// leaves it: a replica that stays behind is lagging whatever it last
// committed. (Before, the first poll that found it behind took it out: a
// checkpoint or autovacuum on a quiet primary, caught by a poll before the
// replica replayed it, evicted a healthy replica for a poll interval.)
func TestQuietPrimaryWALIsNotLagUntilItLasts(t *testing.T) {
	b := setupReplicas(t, 1)
	const maxLag = 1500 * time.Millisecond
	c := b.openReplicas(t, func(cfg *dbx.Config) {
		cfg.ReadReplicas.MaxLagTime = maxLag
		cfg.ReadReplicas.PollInterval = 20 * time.Millisecond
	})
	if _, err := c.Exec(b.ctx, `CREATE TABLE t (id int)`); err != nil {
		t.Fatal(err)
	}
	replica := c.Nodes()[1]
	waitReplayAge(t, b.ctx, replica, 2*maxLag)
	if _, err := replica.Pool().Exec(b.ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = replica.Pool().Exec(b.ctx, `SELECT pg_wal_replay_resume()`) }()
	if _, err := c.Exec(b.ctx, `SELECT pg_logical_emit_message(false, 'pgfleet', 'no commit')`); err != nil {
		t.Fatal(err)
	}
	wrote := time.Now()
	waitFor(t, "a poll that finds the replica behind", func() bool { return state(c, "replica0").LagBytes > 0 })
	for time.Since(wrote) < maxLag/2 {
		if st := state(c, "replica0"); !st.InRotation {
			t.Fatalf("%v after WAL without a commit, while the replica is behind for less than MaxLagTime: %+v, want in rotation", time.Since(wrote).Round(time.Millisecond), st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, "the replica out once behind for MaxLagTime", func() bool { return !state(c, "replica0").InRotation })
	if st := state(c, "replica0"); !strings.Contains(st.Reason, "MaxLagTime") || time.Since(wrote) < maxLag {
		t.Fatalf("%v after the write: %+v, want out over MaxLagTime after at least %v", time.Since(wrote).Round(time.Millisecond), st, maxLag)
	}
	if _, err := replica.Pool().Exec(b.ctx, `SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica back once it replayed", func() bool { return state(c, "replica0").InRotation })
}

// waitReplayAge waits until the last commit replica replayed is older than
// age (longer than a MaxLagTime under test).
func waitReplayAge(t *testing.T, ctx context.Context, replica *dbx.Node, age time.Duration) {
	t.Helper()
	waitFor(t, "the replica's last replayed commit to be older than "+age.String(), func() bool {
		var secs float64
		err := replica.Pool().QueryRow(ctx, `SELECT coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)`).Scan(&secs)
		return err == nil && secs > age.Seconds()
	})
}

// The acceptance test of read-your-writes: 1,000 times, write on the
// primary and read it back at once through the Reader with the commit's
// token. No read may miss its write; most must run on replicas.
func TestReadYourWrites(t *testing.T) {
	b := setupReplicas(t, 2)
	c := b.openReplicas(t, func(cfg *dbx.Config) { cfg.ReadReplicas.CausalWait = 20 * time.Millisecond })
	if _, err := c.Exec(b.ctx, `CREATE TABLE counter (id int PRIMARY KEY, v int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(b.ctx, `INSERT INTO counter VALUES (1, 0)`); err != nil {
		t.Fatal(err)
	}
	before := c.ReadStats()
	const n = 1000
	onReplicas := 0
	for i := 1; i <= n; i++ {
		tok, err := c.TxToken(b.ctx, dbx.TxOptions{}, func(tx pgx.Tx) error {
			_, err := tx.Exec(b.ctx, `UPDATE counter SET v = $1 WHERE id = 1`, i)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var v int
		var replica bool
		if err := c.Reader().QueryRow(dbx.WithToken(b.ctx, tok), `SELECT v, pg_is_in_recovery() FROM counter WHERE id = 1`).Scan(&v, &replica); err != nil {
			t.Fatal(err)
		}
		if v != i {
			t.Fatalf("read %d saw %d: it missed its own write (replica %v, token %s)", i, v, replica, tok)
		}
		if replica {
			onReplicas++
		}
	}
	after := c.ReadStats()
	t.Logf("read-your-writes: %d/%d reads on replicas (%.1f%%); causal checks %d, fallbacks to the primary %d",
		onReplicas, n, 100*float64(onReplicas)/n, after.CausalChecks-before.CausalChecks, after.Fallbacks["causal"]-before.Fallbacks["causal"])
	if onReplicas*2 <= n {
		t.Fatalf("%d of %d reads ran on replicas: want most", onReplicas, n)
	}
}

func TestTokensTravelThroughTheMiddleware(t *testing.T) {
	b := setupReplicas(t, 1)
	c := b.openReplicas(t, nil)
	if _, err := c.Exec(b.ctx, `CREATE TABLE notes (id int PRIMARY KEY, body text)`); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /notes", func(w http.ResponseWriter, r *http.Request) {
		_, err := c.TxToken(r.Context(), dbx.TxOptions{}, func(tx pgx.Tx) error {
			_, err := tx.Exec(r.Context(), `INSERT INTO notes VALUES (1, 'hello')`)
			return err
		})
		if err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("POST /stream", func(w http.ResponseWriter, r *http.Request) {
		if _, err := c.Token(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.(http.Flusher).Flush() // a streaming handler: the token goes out with the header
		_, _ = w.Write([]byte("streamed"))
	})
	mux.HandleFunc("GET /notes", func(w http.ResponseWriter, r *http.Request) {
		var body string
		if err := c.Reader().QueryRow(r.Context(), `SELECT body FROM notes WHERE id = 1`).Scan(&body); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = w.Write([]byte(dbx.TokenFrom(r.Context()).String() + " " + body))
	})
	srv := httptest.NewServer(c.Middleware(mux))
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/notes", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == dbx.TokenCookie {
			cookie = ck
		}
	}
	if resp.StatusCode != 200 || cookie == nil || resp.Header.Get(dbx.TokenHeader) != cookie.Value || !cookie.HttpOnly {
		t.Fatalf("POST: %d, cookie %v, header %q", resp.StatusCode, cookie, resp.Header.Get(dbx.TokenHeader))
	}
	tok, err := c.AcceptToken(cookie.Value)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := http.Post(srv.URL+"/stream", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	stream.Body.Close()
	if stream.Header.Get(dbx.TokenHeader) == "" {
		t.Fatal("a handler that flushed sent no token")
	}
	get := func(cookieValue string) string {
		req, _ := http.NewRequestWithContext(b.ctx, "GET", srv.URL+"/notes", nil)
		req.AddCookie(&http.Cookie{Name: dbx.TokenCookie, Value: cookieValue})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if resp.StatusCode != 200 {
			t.Fatalf("GET: %d %s", resp.StatusCode, sb.String())
		}
		return sb.String()
	}
	if got := get(cookie.Value); got != tok.String()+" hello" {
		t.Fatalf("GET with the cookie = %q, want the token and the note", got)
	}

	// Bad tokens are ignored (the read still runs, wherever a read without a
	// token runs: let the replica catch up first) and counted.
	if err := b.cluster.Replicas[0].WaitReplay(b.ctx, tok.LSN().String()); err != nil {
		t.Fatal(err)
	}
	rejected := c.ReadStats().Rejected
	foreign := "pgf1.1234." + strings.Split(tok.String(), ".")[2]
	for _, bad := range []string{"garbage", "pgf1.zz.10", foreign, "pgf1.1." + strings.Repeat("f", 200)} {
		if got := get(bad); got != " hello" {
			t.Errorf("GET with token %q = %q, want no token honoured", bad, got)
		}
	}
	if got := c.ReadStats().Rejected - rejected; got != 4 {
		t.Fatalf("rejected tokens counted %d, want 4", got)
	}
}

// Pausing a replica (a hung server) or killing it: reads go on, with at
// most the reads in flight on it failing before it leaves the rotation;
// it returns after resume or restart.
func TestReplicaFaultsFallBack(t *testing.T) {
	b := setupReplicas(t, 2)
	c := b.openReplicas(t, nil)
	r := c.ReaderWith(dbx.ReadOptions{Retry: true})
	victim := b.cluster.Replicas[0]

	// reads runs sequential reads until stop says so, each bounded by 300ms,
	// and returns how many failed.
	reads := func(stop func() bool) (ok, failed int) {
		for !stop() {
			ctx, cancel := context.WithTimeout(b.ctx, 300*time.Millisecond)
			if _, _, err := where(ctx, r); err != nil {
				failed++
			} else {
				ok++
			}
			cancel()
		}
		return ok, failed
	}
	waitRotation := func(node string, in bool) func() bool {
		return func() bool { return state(c, node).InRotation == in }
	}

	// Pause: sequential reads with a 300ms bound meet the hung replica until
	// a read fails there as hung (it is suspended at once) or a poll times
	// out (PollInterval 20ms + PollTimeout 200ms). That is one failed read,
	// two when the machine delays the poller (seen once under -race on 2
	// loaded cores: the first read's cancel was answered by the kernel's
	// backlog, so it did not count as hung): the bound is 2, not a timing.
	if err := victim.Pause(); err != nil {
		t.Fatal(err)
	}
	ok, failed := reads(waitRotation("replica0", false))
	more, failedAfter := reads(countdown(50))
	t.Logf("pause: %d reads ok and %d failed until replica0 left the rotation (%q), then %d ok and %d failed", ok, failed, state(c, "replica0").Reason, more, failedAfter)
	if failed > 2 || failedAfter != 0 {
		t.Fatalf("pause: %d reads failed during detection (want at most 2) and %d after", failed, failedAfter)
	}
	if err := victim.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica0 back after resume", waitRotation("replica0", true))

	// Kill: connections break and new ones are refused; a read marked safe
	// to retry runs again on another node, so none fails.
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	ok, failed = reads(waitRotation("replica0", false))
	more, failedAfter = reads(countdown(50))
	t.Logf("kill: %d reads ok and %d failed until replica0 left the rotation, then %d ok and %d failed; retries %d", ok, failed, more, failedAfter, c.ReadStats().Retries)
	if failed != 0 || failedAfter != 0 {
		t.Fatalf("kill: %d reads failed during detection and %d after, want none (Retry)", failed, failedAfter)
	}
	if err := victim.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica0 back after restart", waitRotation("replica0", true))
	for range 20 {
		if _, _, err := where(b.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if c.ReadStats().Reads["replica0"] == 0 {
		t.Fatal("replica0 served no read")
	}
}

// countdown is a stop condition that is true after n calls.
func countdown(n int) func() bool {
	var i atomic.Int64
	return func() bool { return i.Add(1) > int64(n) }
}

// pg_wal_replay_pause takes a replica out of the rotation once it is over
// MaxLagBytes, and back after pg_wal_replay_resume; a promoted replica is
// no longer one.
func TestReplayPauseAndPromotion(t *testing.T) {
	b := setupReplicas(t, 2)
	c := b.openReplicas(t, func(cfg *dbx.Config) { cfg.ReadReplicas.MaxLagBytes = 64 << 10 })
	if _, err := c.Exec(b.ctx, `CREATE TABLE filler (id serial, pad text)`); err != nil {
		t.Fatal(err)
	}
	paused := c.Nodes()[1]
	if _, err := paused.Pool().Exec(b.ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(b.ctx, `INSERT INTO filler (pad) SELECT repeat('x', 200) FROM generate_series(1, 2000)`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica0 out of the rotation", func() bool { return !state(c, "replica0").InRotation })
	if st := state(c, "replica0"); !strings.Contains(st.Reason, "MaxLagBytes") || st.LagBytes <= 64<<10 {
		t.Fatalf("replay paused: %+v, want out over MaxLagBytes", st)
	}
	for range 20 {
		_, port, err := where(b.ctx, c.Reader())
		if err != nil || port == portOf(t, b.cluster.Replicas[0]) {
			t.Fatalf("a read ran on the lagging replica (port %d) or failed: %v", port, err)
		}
	}
	if _, err := paused.Pool().Exec(b.ctx, `SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica0 back in the rotation", func() bool { return state(c, "replica0").InRotation })

	if err := b.cluster.Replicas[1].Promote(b.ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica1 out after its promotion", func() bool { return !state(c, "replica1").InRotation })
	if st := state(c, "replica1"); st.InRecovery || !strings.Contains(st.Reason, "promoted") {
		t.Fatalf("promoted: %+v", st)
	}
	for range 20 {
		onReplica, _, err := where(b.ctx, c.Reader())
		if err != nil || !onReplica {
			t.Fatalf("after promotion a read ran on a non-replica (%v) or failed: %v", onReplica, err)
		}
	}
}

func portOf(t *testing.T, n *dbxtest.Node) int {
	cfg, err := pgx.ParseConfig(n.DSN())
	if err != nil {
		t.Fatal(err)
	}
	return int(cfg.Port)
}

// With every replica out, reads go to the primary (counted), or fail at
// once under FallbackFail.
func TestFallbackPolicy(t *testing.T) {
	b := setupReplicas(t, 1)
	primary := b.openReplicas(t, nil)
	strict := b.openReplicas(t, func(cfg *dbx.Config) {
		cfg.Name = "strict"
		cfg.ReadReplicas.Fallback = dbx.FallbackFail
		cfg.Logger = slog.New(slog.DiscardHandler)
	})
	if err := b.cluster.Replicas[0].Stop(b.ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*dbx.Cluster{primary, strict} {
		waitFor(t, "the replica out", func() bool { return !state(c, "replica0").InRotation })
	}
	onReplica, _, err := where(b.ctx, primary.Reader())
	if err != nil || onReplica || primary.ReadStats().Fallbacks["no_replica"] == 0 {
		t.Fatalf("FallbackPrimary: replica=%v, %v, stats %+v", onReplica, err, primary.ReadStats())
	}
	if _, _, err := where(b.ctx, strict.Reader()); !errors.Is(err, dbx.ErrNoReplica) {
		t.Fatalf("FallbackFail: %v, want ErrNoReplica", err)
	}
}

// Hedged reads: while one replica hangs in bursts (SIGSTOP), a read sent
// there is sent to the other replica after the recent P95 and answers from
// there; hedges stay within the budget and every connection comes back.
func TestHedgedReadsRideOutAHungReplica(t *testing.T) {
	b := setupReplicas(t, 2)
	c := b.openReplicas(t, func(cfg *dbx.Config) {
		// Slow polls: the hung replica stays in the rotation, so that the
		// hedges, not the poller, are what keeps reads fast.
		cfg.ReadReplicas.PollInterval, cfg.ReadReplicas.PollTimeout = time.Second, 10*time.Second
		cfg.ReadReplicas.HedgeBudget = 0.5
	})
	r := c.ReaderWith(dbx.ReadOptions{Hedge: true})
	read := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		if onReplica, _, err := where(ctx, r); err != nil || !onReplica {
			t.Fatalf("hedged read: replica=%v, %v", onReplica, err)
		}
	}
	for range 200 { // learn the P95
		read()
	}
	// Power of two choices sends reads away from the hung replica as soon as
	// one read is stuck there, and a hedge from the other replica may be
	// the one stuck: whether a read meets the hung replica first is chance.
	// Pause until one has (at most 20 pauses).
	// While replica0 is paused, only a hedge to replica1 can win.
	victim := b.cluster.Replicas[0]
	wonWhilePaused := int64(0)
	for i := 0; i < 20 && wonWhilePaused == 0; i++ {
		if err := victim.Pause(); err != nil {
			t.Fatal(err)
		}
		// Long enough for a hedge stuck on replica0 to be cancelled (its
		// reads in flight keep two choices away from it until then).
		before := c.ReadStats().HedgesWon
		for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end) && c.ReadStats().HedgesWon == before; {
			read()
		}
		wonWhilePaused += c.ReadStats().HedgesWon - before
		if err := victim.Resume(); err != nil {
			t.Fatal(err)
		}
		for range 30 {
			read()
		}
	}
	st := c.ReadStats()
	t.Logf("hedging: %d hedged reads, %d hedges sent, %d won, %d of them while replica0 was paused", st.HedgeReads, st.HedgesSent, st.HedgesWon, wonWhilePaused)
	if wonWhilePaused == 0 || float64(st.HedgesSent) > 0.5*float64(st.HedgeReads) {
		t.Fatalf("hedges: %+v, want some won and at most half the reads hedged", st)
	}
	for _, n := range c.Nodes() {
		waitFor(t, n.Name()+"'s slots back", func() bool { return n.Stat().Gate.InUse == 0 })
	}
}

// A replica is a server with its own budget: with a Share, each node's pool
// is sized from its own max_connections.
func TestReplicaPoolsAreSizedFromTheirOwnServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	b := bundle{ctx: ctx, cluster: dbxtest.Start(t, dbxtest.Topology{Replicas: 1, Settings: map[string]string{"max_connections": "20"},
		NodeSettings: map[string]map[string]string{"replica0": {"max_connections": "60"}}})}
	c := b.openReplicas(t, func(cfg *dbx.Config) {
		cfg.Share, cfg.Fleet.Replicas = 0.5, 2
	})
	// The one formula, on each server's own numbers.
	want := func(maxConns int) int {
		a, err := budget.PoolFor(budget.Server{MaxConnections: maxConns, SuperuserReserved: 3}, budget.Service{Name: "orders", Replicas: 2}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		return a.PerProcess
	}
	if p, r := c.Primary().Stat().MaxConns, c.Nodes()[1].Stat().MaxConns; p != want(20) || r != want(60) || r <= p {
		t.Fatalf("pool sizes primary %d, replica %d; want %d and %d", p, r, want(20), want(60))
	}
}

// countingConn counts the client's writes to the server: one per round trip
// (pgx flushes a statement, or a whole batch, in one write).
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TxToken costs no round trip over Tx: the COMMIT and the read of the WAL
// position travel in one batch. Token after Tx costs one more.
func TestTxTokenAddsNoRoundTrip(t *testing.T) {
	b := setup(t, nil)
	var writes atomic.Int64
	c := b.open(t, func(cfg *dbx.Config) {
		cfg.MaxConns = 1
		dial := cfg.Pool.ConnConfig.DialFunc
		cfg.Pool.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			return countingConn{conn, &writes}, err
		}
	})
	if _, err := c.Exec(b.ctx, `CREATE TABLE counter (id int PRIMARY KEY, v int); INSERT INTO counter VALUES (1, 0)`); err != nil {
		t.Fatal(err)
	}
	update := func(tx pgx.Tx) error {
		_, err := tx.Exec(b.ctx, `UPDATE counter SET v = v + 1 WHERE id = 1`)
		return err
	}
	trips := func(fn func() error) int64 {
		t.Helper()
		for range 2 { // the first run prepares and caches the statements
			writes.Store(0)
			if err := fn(); err != nil {
				t.Fatal(err)
			}
		}
		return writes.Load()
	}
	var tok dbx.Token
	tx := trips(func() error { return c.Tx(b.ctx, update) })
	txToken := trips(func() (err error) { tok, err = c.TxToken(b.ctx, dbx.TxOptions{}, update); return err })
	txThenToken := trips(func() error {
		if err := c.Tx(b.ctx, update); err != nil {
			return err
		}
		_, err := c.Token(b.ctx)
		return err
	})
	t.Logf("round trips: Tx %d, TxToken %d, Tx then Token %d", tx, txToken, txThenToken)
	if txToken != tx || txThenToken != tx+1 || tok.IsZero() {
		t.Fatalf("round trips: Tx %d, TxToken %d (token %s), Tx then Token %d: want TxToken = Tx, Token one more", tx, txToken, tok, txThenToken)
	}
	// The token is the WAL position after the commit.
	var after string
	if err := c.QueryRow(b.ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if lsn, _ := dbx.ParseLSN(after); tok.LSN() == 0 || tok.LSN() > lsn {
		t.Fatalf("token %s after %s", tok, after)
	}
}

// A replica that is down at Open does not keep the service from starting:
// it is out of the rotation, reads go to the primary, and the warning does
// not show its password.
func TestReplicaDownAtOpen(t *testing.T) {
	b := setup(t, nil)
	var logs strings.Builder
	var mu sync.Mutex
	c := b.open(t, func(cfg *dbx.Config) {
		cfg.ReadReplicas.DSNs = []string{"postgres://app:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=1"}
		cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	})
	if st := state(c, "replica0"); st.InRotation || !strings.Contains(st.Reason, "poll failed") {
		t.Fatalf("replica down at Open: %+v", st)
	}
	onReplica, _, err := where(b.ctx, c.Reader())
	if err != nil || onReplica {
		t.Fatalf("read with the replica down: replica=%v, %v", onReplica, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if out := logs.String(); !strings.Contains(out, "replica0") || strings.Contains(out, "s3cret") {
		t.Fatalf("log: %s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// The router's series: per node, with the Cluster's labels, lint-clean,
// and moving with what the router did.
func TestReplicaMetrics(t *testing.T) {
	b := setupReplicas(t, 1)
	c := b.openReplicas(t, nil)
	for range 5 {
		if _, _, err := where(b.ctx, c.Reader()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.AcceptToken("garbage"); err == nil {
		t.Fatal("garbage accepted")
	}
	families := gather(t, c)
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["service"] != "orders" || labels["node"] == "" || labels["cluster"] == "" {
				t.Errorf("%s: labels %v", f.GetName(), labels)
			}
			key := f.GetName() + "/" + labels["node"] + "/" + labels["reason"]
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"pgfleet_reads_total/replica0/":                          5,
		"pgfleet_reads_total/primary/":                           0,
		"pgfleet_replica_in_rotation/replica0/":                  1,
		"pgfleet_causal_tokens_rejected_total/primary/malformed": 1,
		"pgfleet_read_fallbacks_total/primary/no_replica":        0,
		"pgfleet_hedges_sent_total/replica0/":                    0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (exported %v), want %v", key, v, ok, want)
		}
	}
}

// The data flow of a request: a write commits with a token, and a loader
// over the Reader, in the same request's context, reads it back on a
// replica: the token reaches the batch through the context's values.
func TestLoaderOverReaderReadsItsWrites(t *testing.T) {
	b := setupReplicas(t, 1)
	c := b.openReplicas(t, func(cfg *dbx.Config) { cfg.ReadReplicas.CausalWait = 50 * time.Millisecond })
	if _, err := c.Exec(b.ctx, `CREATE TABLE items (id int8 PRIMARY KEY, name text)`); err != nil {
		t.Fatal(err)
	}
	type item struct {
		ID   int64
		Name string
	}
	items, err := loader.NewOne(c.Reader(), loader.Query[int64, item]{
		Name: "items",
		SQL:  `SELECT id, name FROM items WHERE id = ANY($1)`,
		Key:  func(i item) int64 { return i.ID },
	}, loader.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for id := range int64(20) {
		ctx, end := loader.WithScope(dbx.WithToken(b.ctx, dbx.Token{}))
		if _, err := c.TxToken(ctx, dbx.TxOptions{}, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO items VALUES ($1, 'x')`, id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		got, err := items.Load(ctx, id)
		end()
		if err != nil || got.ID != id {
			t.Fatalf("load %d after its insert: %+v, %v", id, got, err)
		}
	}
	// The token reached the Reader: right after a commit no replica is known
	// to have replayed it, so reads asked a replica (or went to the primary).
	if st := c.ReadStats(); st.Reads["replica0"] == 0 || st.CausalChecks+st.Fallbacks["causal"] == 0 {
		t.Fatalf("loads on the replica, or tokens seen: %+v", st)
	}
}

// A read that fails because its connection broke (the replica terminated
// it) names the node, takes the replica out of the rotation, and, when the
// reader declared its reads safe to retry, runs once more elsewhere.
func TestRetryOnceAfterABrokenConnection(t *testing.T) {
	b := setupReplicas(t, 1)
	c := b.openReplicas(t, func(cfg *dbx.Config) {
		cfg.MaxConns = 1
		cfg.ReadReplicas.PollInterval = time.Hour // only the read may notice
	})
	replica := b.cluster.Replicas[0]
	breakConn := func() {
		t.Helper()
		if onReplica, _, err := where(b.ctx, c.Reader()); err != nil || !onReplica {
			t.Fatalf("warm-up read: replica=%v, %v", onReplica, err)
		}
		if n, err := replica.TerminateApp(b.ctx, c.AppName()); err != nil || n != 1 {
			t.Fatalf("terminated %d, %v", n, err)
		}
	}
	breakConn()
	_, _, err := where(b.ctx, c.Reader())
	if err == nil || !strings.Contains(err.Error(), "read on replica0") {
		t.Fatalf("read on a terminated connection without Retry: %v, want an error naming replica0", err)
	}
	if st := state(c, "replica0"); st.InRotation {
		t.Fatalf("replica0 still in the rotation after a connection-level failure: %+v", st)
	}

	// Safe to retry: the same failure is retried once, on the primary here
	// (the only replica just left the rotation).
	// Another application_name too: TerminateApp must not also reach the
	// first Cluster's replica connection, which its pool may have reopened.
	c2 := b.openReplicas(t, func(cfg *dbx.Config) {
		cfg.Name = "retrying"
		cfg.Service += "-retrying"
		cfg.MaxConns = 1
		cfg.ReadReplicas.PollInterval = time.Hour
	})
	c = c2
	breakConn()
	onReplica, _, err := where(b.ctx, c.ReaderWith(dbx.ReadOptions{Retry: true}))
	if err != nil || onReplica {
		t.Fatalf("retried read: replica=%v, %v; want it answered by the primary", onReplica, err)
	}
	if st := c.ReadStats(); st.Retries != 1 || st.Fallbacks["no_replica"] != 1 {
		t.Fatalf("stats after one retry: %+v", st)
	}
}
