package shard_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/migrations"
	"github.com/pgfleet/pgfleet/shard"
)

// schema is the test application's goose migration set: one sharded table
// that stores each row's bucket (what a bucket move selects by).
var schema = fstest.MapFS{
	"00001_events.sql": {Data: []byte(`-- +goose Up
CREATE TABLE events (
	id         bigint PRIMARY KEY,
	user_id    bigint NOT NULL,
	bucket     int NOT NULL,
	created_at timestamptz NOT NULL,
	body       text NOT NULL DEFAULT ''
);
CREATE INDEX events_bucket ON events (bucket);
-- +goose Down
DROP TABLE events;
`)},
}

// fleet is three real shards with the schema migrated on each, a dbx
// Cluster per shard and a Router over them.
type fleet struct {
	topo     *dbxtest.Cluster
	clusters map[string]*dbx.Cluster
	router   *shard.Router
}

func startFleet(t testing.TB, cfg shard.Config) *fleet {
	t.Helper()
	ctx := t.Context()
	topo := dbxtest.Start(t, dbxtest.Topology{Shards: 3})
	m, err := migrations.New(schema, migrations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dsns, names []string
	for _, n := range topo.Shards {
		dsns, names = append(dsns, n.DSN()), append(names, n.Name)
	}
	if err := m.UpAll(ctx, dsns...); err != nil {
		t.Fatal(err)
	}
	f := &fleet{topo: topo, clusters: map[string]*dbx.Cluster{}}
	for _, n := range topo.Shards {
		c, err := dbx.ParseConfig(n.DSN())
		if err != nil {
			t.Fatal(err)
		}
		c.Name, c.Service, c.MaxConns = n.Name, "shardtest", 4
		cl, err := dbx.OpenConfig(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		f.clusters[n.Name] = cl
	}
	f.router, err = shard.New(shard.EvenMap(1, 1024, names...), f.clusters, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type event struct {
	ID, UserID int64
	Bucket     int
	At         int64 // seconds, for a simple order
}

// insert writes an event where the router says its user lives.
func (f *fleet) insert(ctx context.Context, e event) error {
	k := shard.Int(e.UserID)
	_, err := f.router.For(k).Exec(ctx, `INSERT INTO events (id, user_id, bucket, created_at) VALUES ($1, $2, $3, to_timestamp($4))`,
		e.ID, e.UserID, f.router.Bucket(k), e.At)
	return err
}

func TestRowsLandWhereTheRouterSays(t *testing.T) {
	dbxtest.SkipShort(t)
	t.Parallel()
	f := startFleet(t, shard.Config{})
	ctx := t.Context()
	const n = 600
	for i := range int64(n) {
		if err := f.insert(ctx, event{ID: i, UserID: i * 7919, At: i}); err != nil {
			t.Fatal(err)
		}
	}
	// Read each server directly, not through the router.
	total := 0
	for _, node := range f.topo.Shards {
		var version int64
		if err := dbxtest.Pool(t, node).QueryRow(ctx, `SELECT max(version_id) FROM pgfleet_migrations`).Scan(&version); err != nil || version != 1 {
			t.Fatalf("%s: migrations did not reach it (version %d, %v)", node.Name, version, err)
		}
		rows, err := dbxtest.Pool(t, node).Query(ctx, `SELECT user_id, bucket FROM events`)
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for rows.Next() {
			var user int64
			var bucket int
			if err := rows.Scan(&user, &bucket); err != nil {
				t.Fatal(err)
			}
			if want := f.router.ShardOf(shard.Int(user)); want != node.Name || bucket != shard.BucketOf(shard.Int(user), 1024) {
				t.Fatalf("user %d (bucket %d) is on %s, the router says %s", user, bucket, node.Name, want)
			}
			count++
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		if count < n/6 { // a third each, give or take
			t.Errorf("%s holds %d of %d rows: the spread is off", node.Name, count, n)
		}
		total += count
	}
	if total != n {
		t.Fatalf("%d rows stored, %d written", total, n)
	}
}

// latest is the "newest N across shards" query each shard runs.
func latest(limit int) func(ctx context.Context, _ string, c *dbx.Cluster) ([]event, error) {
	return func(ctx context.Context, _ string, c *dbx.Cluster) ([]event, error) {
		rows, err := c.Query(ctx, `SELECT id, user_id, bucket, extract(epoch FROM created_at)::bigint FROM events ORDER BY created_at DESC, id LIMIT $1`, limit)
		if err != nil {
			return nil, err
		}
		var out []event
		for rows.Next() {
			var e event
			if err := rows.Scan(&e.ID, &e.UserID, &e.Bucket, &e.At); err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, rows.Err()
	}
}

func newestFirst(a, b event) int {
	if a.At != b.At {
		return int(b.At - a.At)
	}
	return int(a.ID - b.ID)
}

func TestScatterGather(t *testing.T) {
	dbxtest.SkipShort(t)
	t.Parallel()
	f := startFleet(t, shard.Config{})
	ctx := t.Context()
	for i := range int64(200) {
		if err := f.insert(ctx, event{ID: i, UserID: i, At: 1000 + (i*37)%200}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := shard.Gather(ctx, f.router, shard.ScatterOptions{}, 10, newestFirst, latest(10))
	if err != nil {
		t.Fatal(err)
	}
	// (i*37)%200 is a permutation of 0..199: the newest ten are At 1199..1190.
	if len(got) != 10 {
		t.Fatalf("got %d rows", len(got))
	}
	for j, e := range got {
		if e.At != 1199-int64(j) {
			t.Fatalf("row %d is at %d, want %d: %v", j, e.At, 1199-j, got)
		}
	}

	// The concurrency bound: never more shards at once than asked.
	var inflight, peak int64
	var mu = make(chan struct{}, 1)
	_, err = shard.Scatter(ctx, f.router, shard.ScatterOptions{Concurrency: 2}, func(ctx context.Context, _ string, c *dbx.Cluster) (int, error) {
		mu <- struct{}{}
		inflight++
		peak = max(peak, inflight)
		<-mu
		_, err := c.Exec(ctx, `SELECT pg_sleep(0.05)`)
		mu <- struct{}{}
		inflight--
		<-mu
		return 0, err
	})
	if err != nil || peak > 2 || peak < 1 {
		t.Fatalf("peak %d shards at once with Concurrency 2 (err %v)", peak, err)
	}

	// A subset, and a name that is not a shard.
	res, err := shard.Scatter(ctx, f.router, shard.ScatterOptions{Shards: []string{"shard2"}}, latest(1))
	if err != nil || len(res) != 1 || res[0].Shard != "shard2" {
		t.Fatalf("subset: %v %v", res, err)
	}
	if _, err := shard.Scatter(ctx, f.router, shard.ScatterOptions{Shards: []string{"shard9"}}, latest(1)); err == nil {
		t.Fatal("an unknown shard must be refused")
	}
}

// TestScatterPartialFailure stops one shard and pauses another (hung: it
// accepts connections and never answers): FailFast fails naming them;
// AllowPartial returns the live shard's rows with the per-shard errors; the
// per-shard timeout bounds the hung one.
func TestScatterPartialFailure(t *testing.T) {
	dbxtest.SkipShort(t)
	t.Parallel()
	f := startFleet(t, shard.Config{})
	ctx := t.Context()
	for i := range int64(60) {
		if err := f.insert(ctx, event{ID: i, UserID: i, At: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.topo.Shards[1].Stop(ctx); err != nil {
		t.Fatal(err)
	}

	if err := f.router.Ping(ctx); err == nil || !strings.Contains(err.Error(), "shard: shard1: ") || strings.Contains(err.Error(), "shard0") {
		t.Fatalf("Ping must name the stopped shard, and only it: %v", err)
	}

	_, err := shard.Gather(ctx, f.router, shard.ScatterOptions{}, 5, newestFirst, latest(5))
	var pe *shard.PartialError
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Failed[0].Shard != "shard1" {
		t.Fatalf("FailFast with shard1 stopped: %v", err)
	}

	rows, err := shard.Gather(ctx, f.router, shard.ScatterOptions{Policy: shard.AllowPartial}, 100, newestFirst, latest(100))
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Failed[0].Shard != "shard1" || pe.Answered != 2 {
		t.Fatalf("AllowPartial: %v", err)
	}
	for _, e := range rows {
		if f.router.ShardOf(shard.Int(e.UserID)) == "shard1" {
			t.Fatalf("row %v claims to come from the stopped shard", e)
		}
	}
	if len(rows) == 0 || len(rows) >= 60 {
		t.Fatalf("AllowPartial returned %d rows: want those of the two live shards", len(rows))
	}

	if n := counterOf(t, f.router, "pgfleet_shard_scatter_failures_total", "shard1"); n != 2 {
		t.Fatalf("the failures metric counts %v for shard1, want 2", n)
	}

	// A hung shard: the per-shard timeout ends its query, the others answer.
	if err := f.topo.Shards[2].Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.topo.Shards[2].Resume() })
	res, err := shard.Scatter(ctx, f.router, shard.ScatterOptions{Policy: shard.AllowPartial, Timeout: 300e6, Shards: []string{"shard0", "shard2"}}, latest(1))
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Failed[0].Shard != "shard2" || len(res) != 1 || res[0].Shard != "shard0" {
		t.Fatalf("hung shard2: %v, results %v", err, res)
	}
	if !errors.Is(pe.Failed[0].Err, context.DeadlineExceeded) && !pgconn.Timeout(pe.Failed[0].Err) {
		t.Fatalf("the hung shard's error is not a timeout: %v", pe.Failed[0].Err)
	}
}
