package shard_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/shard"
)

// routerWith is another process's Router over f's shards, with map m: its
// own Clusters of one connection each, so that a test sees what the
// connection a write used still carries.
func (f *fleet) routerWith(t *testing.T, m *shard.Map) *shard.Router {
	t.Helper()
	clusters := map[string]*dbx.Cluster{}
	for _, n := range f.topo.Shards {
		c, err := dbx.ParseConfig(n.DSN())
		if err != nil {
			t.Fatal(err)
		}
		c.Name, c.Service, c.MaxConns = n.Name, "shardtest-other", 1
		cl, err := dbx.OpenConfig(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		clusters[n.Name] = cl
	}
	r, err := shard.New(m, clusters, shard.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// insertEvent writes event id of k's user through r's declared write.
func insertEvent(ctx context.Context, r *shard.Router, k shard.Key, user, id int64) error {
	_, err := r.Exec(ctx, k, `INSERT INTO events (id, user_id, bucket, created_at, body) VALUES ($1, $2, $3, now(), 'new')`, id, user, r.Bucket(k))
	return err
}

// txExec runs sql as the only statement of r.Tx and returns the rows it
// touched.
func txExec(ctx context.Context, r *shard.Router, k shard.Key, sql string, args ...any) (int64, error) {
	var n int64
	err := r.Tx(ctx, k, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// wantMoved fails unless err is the fence's refusal.
func wantMoved(t *testing.T, what string, err error) {
	t.Helper()
	if !shard.IsBucketMoved(err) {
		t.Fatalf("%s with a stale map: %v, want the fence's error (IsBucketMoved)", what, err)
	}
}

// wantRows fails unless a write succeeded on exactly n rows.
func wantRows(t *testing.T, what string, got int64, err error, n int64) {
	t.Helper()
	if err != nil || got != n {
		t.Fatalf("%s: %d rows, %v; want %d rows", what, got, err, n)
	}
}

// bucketRows lists the ids of bucket's events on a shard, read directly.
func bucketRows(t *testing.T, f *fleet, shardName string, bucket int) map[int64]string {
	t.Helper()
	rows, err := f.clusters[shardName].Query(t.Context(), `SELECT id, body FROM events WHERE bucket = $1`, bucket)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var body string
		if err := rows.Scan(&id, &body); err != nil {
			t.Fatal(err)
		}
		out[id] = body
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	return out
}

// moveSetup is a fleet with a catalog, user's key with its bucket, the
// shard that owns it and another shard to move it to, and another
// process's Router that keeps the first map until it reloads.
type moveSetup struct {
	f            *fleet
	catalog      shard.DB
	dbs          map[string]shard.DB
	k            shard.Key
	bucket       int
	owner, other string
	firstMap     *shard.Router
}

func newMoveSetup(t *testing.T, user int64) moveSetup {
	t.Helper()
	dbxtest.SkipShort(t)
	t.Parallel()
	f := startFleet(t, shard.Config{})
	catalog, dbs := f.catalog(t)
	k := shard.Int(user)
	owner := f.router.ShardOf(k)
	return moveSetup{f, catalog, dbs, k, f.router.Bucket(k), owner, otherShard(owner), f.routerWith(t, f.router.Map())}
}

// TestStaleWriteAfterCleanup: once a move is complete and the source
// cleaned, an UPDATE or DELETE routed with the old map matches no row
// there. Declared (Router.Exec, Router.Tx) it fails with IsBucketMoved;
// undeclared (For(k).Exec) it shows the documented 0-row success. After
// Reload the declared writes land on the new shard.
func TestStaleWriteAfterCleanup(t *testing.T) {
	const user = 42
	ms := newMoveSetup(t, user)
	f, catalog, dbs, k, bucket, from, to, stale := ms.f, ms.catalog, ms.dbs, ms.k, ms.bucket, ms.owner, ms.other, ms.firstMap
	ctx := t.Context()
	var other int64 // a user of another bucket on the same source shard
	for u := int64(1); other == 0; u++ {
		if f.router.ShardOf(shard.Int(u)) == from && f.router.Bucket(shard.Int(u)) != bucket {
			other = u
		}
	}
	for id := int64(1); id <= 3; id++ {
		if err := insertEvent(ctx, f.router, k, user, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := insertEvent(ctx, f.router, shard.Int(other), other, 4); err != nil {
		t.Fatal(err)
	}

	rep, err := shard.Move(ctx, catalog, dbs, shard.MoveSpec{Bucket: bucket, To: to, Tables: []string{"events"}})
	if err != nil || rep.Deleted != 3 {
		t.Fatalf("move: %+v, %v", rep, err)
	}

	_, err = stale.Exec(ctx, k, `UPDATE events SET body = 'lost' WHERE id = $1`, 1)
	wantMoved(t, "a declared UPDATE", err)
	if !strings.Contains(err.Error(), "declared write") {
		t.Fatalf("the statement guard, not a row trigger, should refuse it: %v", err)
	}
	_, err = stale.Exec(ctx, k, `DELETE FROM events WHERE id = $1`, 2)
	wantMoved(t, "a declared DELETE", err)
	_, err = txExec(ctx, stale, k, `UPDATE events SET body = 'lost' WHERE id = $1`, 3)
	wantMoved(t, "an UPDATE in a declared transaction", err)
	wantMoved(t, "a declared INSERT", insertEvent(ctx, stale, k, user, 5))

	// The declaration ended with each write's transaction: the shard's one
	// connection, used by all of them, carries nothing now.
	var setting *string
	if err := stale.Cluster(from).QueryRow(ctx, `SELECT current_setting('pgfleet.shard_bucket', true)`).Scan(&setting); err != nil || (setting != nil && *setting != "") {
		t.Fatalf("pgfleet.shard_bucket after the declared writes: %v, %v; want it empty", setting, err)
	}
	// The fence is per bucket: the other bucket's declared writes on the
	// old shard go on.
	tag, err := stale.Exec(ctx, shard.Int(other), `UPDATE events SET body = 'kept' WHERE id = $1`, 4)
	wantRows(t, "a declared UPDATE of another bucket on the source", tag.RowsAffected(), err, 1)

	// Undeclared, the same statements succeed on 0 rows: the documented gap.
	tag, err = stale.For(k).Exec(ctx, `UPDATE events SET body = 'lost' WHERE id = $1`, 1)
	wantRows(t, "an undeclared UPDATE with a stale map", tag.RowsAffected(), err, 0)
	tag, err = stale.For(k).Exec(ctx, `DELETE FROM events WHERE id = $1`, 2)
	wantRows(t, "an undeclared DELETE with a stale map", tag.RowsAffected(), err, 0)

	if changed, err := stale.Reload(ctx, catalog); err != nil || !changed || stale.ShardOf(k) != to {
		t.Fatalf("reload: changed %v, %v; the key is on %s, want %s", changed, err, stale.ShardOf(k), to)
	}
	tag, err = stale.Exec(ctx, k, `UPDATE events SET body = 'upd' WHERE id = $1`, 1)
	wantRows(t, "the declared UPDATE after Reload", tag.RowsAffected(), err, 1)
	tag, err = stale.Exec(ctx, k, `DELETE FROM events WHERE id = $1`, 2)
	wantRows(t, "the declared DELETE after Reload", tag.RowsAffected(), err, 1)
	n, err := txExec(ctx, stale, k, `UPDATE events SET body = 'tx' WHERE id = $1`, 3)
	wantRows(t, "the declared transaction after Reload", n, err, 1)

	if got := bucketRows(t, f, to, bucket); len(got) != 2 || got[1] != "upd" || got[3] != "tx" {
		t.Fatalf("bucket %d on %s: %v, want ids 1 (upd) and 3 (tx)", bucket, to, got)
	}
	if got := bucketRows(t, f, from, bucket); len(got) != 0 {
		t.Fatalf("bucket %d is still on the source %s: %v", bucket, from, got)
	}
}

// TestDeclaredTx: Router.Tx declares the key's bucket to every statement
// in a READ COMMITTED transaction; options that would defeat the fence are
// refused before anything is sent.
func TestDeclaredTx(t *testing.T) {
	dbxtest.SkipShort(t)
	t.Parallel()
	f := startFleet(t, shard.Config{})
	ctx := t.Context()
	k := shard.Int(9)
	var declared, iso string
	err := f.router.Tx(ctx, k, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('pgfleet.shard_bucket'), current_setting('transaction_isolation')`).Scan(&declared, &iso)
	})
	if err != nil || declared != strconv.Itoa(f.router.Bucket(k)) || iso != "read committed" {
		t.Fatalf("inside Tx: bucket %q, isolation %q, %v; want %d, read committed", declared, iso, err, f.router.Bucket(k))
	}
	for _, c := range []struct {
		opts pgx.TxOptions
		want string
	}{
		{pgx.TxOptions{IsoLevel: pgx.Serializable}, "READ COMMITTED, not serializable"},
		{pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, "READ COMMITTED, not repeatable read"},
		{pgx.TxOptions{AccessMode: pgx.ReadOnly}, "use For(k).Tx"},
		{pgx.TxOptions{BeginQuery: "BEGIN"}, "leave TxOptions.BeginQuery empty"},
	} {
		called := false
		err := f.router.TxWith(ctx, k, dbx.TxOptions{TxOptions: c.opts}, func(pgx.Tx) error { called = true; return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) || called {
			t.Errorf("TxWith %+v: %v (fn called: %v), want an error saying %q", c.opts, err, called, c.want)
		}
	}
	// A failing declared statement fails as itself, and rolls back.
	if err := insertEvent(ctx, f.router, k, 9, 1); err != nil {
		t.Fatal(err)
	}
	var pe interface{ SQLState() string }
	if err := insertEvent(ctx, f.router, k, 9, 1); !errors.As(err, &pe) || pe.SQLState() != "23505" {
		t.Fatalf("a duplicate declared insert: %v, want 23505", err)
	}
}

// TestMoveThereAndBack moves a bucket A -> B -> A. While the second move
// builds A's copy, A's fence from the first move still refuses a process
// whose map predates both moves; after the flip A takes the bucket's
// writes again (from that process too: its map and the current one agree),
// and B refuses a process that stopped at the middle map.
func TestMoveThereAndBack(t *testing.T) {
	const user = 7
	ms := newMoveSetup(t, user)
	f, catalog, dbs, k, bucket, a, b, first := ms.f, ms.catalog, ms.dbs, ms.k, ms.bucket, ms.owner, ms.other, ms.firstMap
	ctx := t.Context()
	for id := int64(1); id <= 5; id++ {
		if err := insertEvent(ctx, f.router, k, user, id); err != nil {
			t.Fatal(err)
		}
	}
	spec := shard.MoveSpec{Bucket: bucket, Tables: []string{"events"}}
	there, back := spec, spec
	there.To, back.To = b, a
	if _, err := shard.Move(ctx, catalog, dbs, there); err != nil {
		t.Fatal(err)
	}
	if _, err := f.router.Reload(ctx, catalog); err != nil {
		t.Fatal(err)
	}
	middle := f.routerWith(t, f.router.Map())
	tag, err := f.router.Exec(ctx, k, `UPDATE events SET body = 'on-b' WHERE id = $1`, 1)
	wantRows(t, "an update on B", tag.RowsAffected(), err, 1)

	checked := false
	rep, err := shard.Move(ctx, catalog, dbs, shard.WithHook(back, func(step string) error {
		if step != "copied" {
			return nil
		}
		checked = true
		_, err := first.Exec(ctx, k, `UPDATE events SET body = 'stale' WHERE id = $1`, 2)
		wantMoved(t, "a first-map UPDATE while A's copy is built", err)
		wantMoved(t, "a first-map INSERT while A's copy is built", insertEvent(ctx, first, k, user, 100))
		return nil
	}))
	if err != nil || !checked || rep.From != b || rep.Deleted != 5 {
		t.Fatalf("the move back: %+v, %v (checked %v)", rep, err, checked)
	}

	if _, err := f.router.Reload(ctx, catalog); err != nil || f.router.ShardOf(k) != a {
		t.Fatalf("reload: %v; the key is on %s, want %s", err, f.router.ShardOf(k), a)
	}
	tag, err = f.router.Exec(ctx, k, `UPDATE events SET body = 'back' WHERE id = $1`, 3)
	wantRows(t, "an update on A, its owner again", tag.RowsAffected(), err, 1)
	tag, err = f.router.Exec(ctx, k, `DELETE FROM events WHERE id = $1`, 4)
	wantRows(t, "a delete on A", tag.RowsAffected(), err, 1)
	if err := insertEvent(ctx, f.router, k, user, 6); err != nil {
		t.Fatalf("an insert on A: %v", err)
	}
	tag, err = first.Exec(ctx, k, `UPDATE events SET body = 'first' WHERE id = $1`, 5)
	wantRows(t, "an update with the first map, which agrees with the current one", tag.RowsAffected(), err, 1)

	_, err = middle.Exec(ctx, k, `UPDATE events SET body = 'lost' WHERE id = $1`, 3)
	wantMoved(t, "a middle-map UPDATE on B", err)
	_, err = txExec(ctx, middle, k, `DELETE FROM events WHERE id = $1`, 5)
	wantMoved(t, "a middle-map DELETE on B", err)

	want := map[int64]string{1: "on-b", 2: "new", 3: "back", 5: "first", 6: "new"}
	if got := bucketRows(t, f, a, bucket); len(got) != len(want) {
		t.Fatalf("bucket %d on %s: %v, want %v", bucket, a, got, want)
	} else {
		for id, body := range want {
			if got[id] != body {
				t.Fatalf("bucket %d on %s: %v, want %v", bucket, a, got, want)
			}
		}
	}
	if got := bucketRows(t, f, b, bucket); len(got) != 0 {
		t.Fatalf("bucket %d is still on %s: %v", bucket, b, got)
	}
}
