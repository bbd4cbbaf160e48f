package shard_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/shard"
)

var errKilled = errors.New("killed by the test")

func otherShard(s string) string {
	if s == "shard0" {
		return "shard1"
	}
	return "shard0"
}

// row is what the test expects a row to hold.
type row struct {
	user int64
	body string
}

// writer owns a set of ids and changes them through the router's declared
// writes while a move runs, retrying a write the fence refused after
// reloading the map. It has no other defence: a write routed with a stale
// map must fail, never succeed on 0 rows (step checks 1 row per update and
// delete).
type writer struct {
	router  *shard.Router // its own: it reloads only when refused
	catalog shard.DB
	users   []int64 // users to write for (mostly in the moving bucket)
	rng     *rand.Rand
	nextID  *atomic.Int64
	rows    map[int64]row // what this writer committed
	fenced  int           // writes refused by the fence (then retried)
}

// exec runs one declared write of user's bucket, as Router.Exec or, when
// inTx, as the only statement of Router.Tx.
func (w *writer) exec(ctx context.Context, user int64, inTx bool, sql string, args ...any) (int64, error) {
	k := shard.Int(user)
	for attempt := 0; ; attempt++ {
		var n int64
		var err error
		if inTx {
			n, err = txExec(ctx, w.router, k, sql, args...)
		} else {
			var tag pgconn.CommandTag
			tag, err = w.router.Exec(ctx, k, sql, args...)
			n = tag.RowsAffected()
		}
		if !shard.IsBucketMoved(err) {
			return n, err
		}
		w.fenced++
		if attempt > 5000 {
			return 0, fmt.Errorf("still fenced after %d attempts: %w", attempt, err)
		}
		if _, err := w.router.Reload(ctx, w.catalog); err != nil {
			return 0, err
		}
		time.Sleep(2 * time.Millisecond) // the mover is between fence and flip
	}
}

// step makes one random write: an insert (op 0-4), an update (5-7, 7 in
// a transaction) or a delete (8-9).
func (w *writer) step(ctx context.Context) error { return w.do(ctx, w.rng.IntN(10)) }

func (w *writer) do(ctx context.Context, op int) error {
	var ids []int64
	for id := range w.rows {
		ids = append(ids, id)
	}
	switch {
	case op < 5 || len(ids) == 0: // insert
		id, user := w.nextID.Add(1), w.users[w.rng.IntN(len(w.users))]
		body := fmt.Sprintf("new-%d", id)
		if _, err := w.exec(ctx, user, false, `INSERT INTO events (id, user_id, bucket, created_at, body) VALUES ($1, $2, $3, now(), $4)`,
			id, user, w.router.Bucket(shard.Int(user)), body); err != nil {
			return err
		}
		w.rows[id] = row{user, body}
	case op < 8: // update
		id := ids[w.rng.IntN(len(ids))]
		r := w.rows[id]
		r.body = fmt.Sprintf("upd-%d-%d", id, w.rng.IntN(1000000))
		n, err := w.exec(ctx, r.user, op == 7, `UPDATE events SET body = $2 WHERE id = $1`, id, r.body)
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("update of id %d touched %d rows on %s: the row is not where the router says", id, n, w.router.ShardOf(shard.Int(r.user)))
		}
		w.rows[id] = r
	default: // delete
		id := ids[w.rng.IntN(len(ids))]
		n, err := w.exec(ctx, w.rows[id].user, w.rng.IntN(2) == 0, `DELETE FROM events WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("delete of id %d touched %d rows", id, n)
		}
		delete(w.rows, id)
	}
	return nil
}

// catalog puts the fleet's map in a catalog on the topology's primary and
// returns it with the shards as a Move wants them.
func (f *fleet) catalog(t testing.TB) (shard.DB, map[string]shard.DB) {
	t.Helper()
	catalog := dbxtest.Pool(t, f.topo.Primary)
	if err := shard.EnsureCatalog(t.Context(), catalog); err != nil {
		t.Fatal(err)
	}
	if err := shard.SaveMap(t.Context(), catalog, f.router.Map()); err != nil {
		t.Fatal(err)
	}
	dbs := map[string]shard.DB{}
	for name, c := range f.clusters {
		dbs[name] = c
	}
	return catalog, dbs
}

// TestMoveUnderWritesKilledAndRerun moves one bucket while writers change
// rows in it and elsewhere; the move is killed after its first copy batch,
// after the fence, and after the flip, and rerun each time. In the end every
// committed row exists exactly once, on the shard the final map gives its
// bucket, and only the moved bucket changed shard. Each writer has its own
// Router, reloaded only when the fence refuses a write, and uses declared
// writes with no other defence: an update or delete that reaches a cleaned
// source with a stale map must fail, not succeed on 0 rows.
func TestMoveUnderWritesKilledAndRerun(t *testing.T) {
	dbxtest.SkipShort(t)
	t.Parallel()
	f := startFleet(t, shard.Config{})
	ctx := t.Context()
	catalog, dbs := f.catalog(t)
	initial := f.router.Map()

	// Two moving buckets: A (user 1's), moved by runs that are killed and
	// rerun, and B, moved by one run that waits between its copy and its
	// fence so that writes land only in its change log. 100 users in each.
	bucket := f.router.Bucket(shard.Int(1))
	from := f.router.ShardOf(shard.Int(1))
	to := otherShard(from)
	var inBucket, inB, elsewhere []int64
	bucketB, fromB := -1, ""
	for u := int64(1); len(inBucket) < 100 || len(inB) < 100 || len(elsewhere) < 60; u++ {
		switch b := shard.BucketOf(shard.Int(u), 1024); {
		case b == bucket:
			inBucket = append(inBucket, u)
		case bucketB < 0:
			bucketB, fromB = b, f.router.ShardOf(shard.Int(u))
			inB = append(inB, u)
		case b == bucketB:
			inB = append(inB, u)
		case len(elsewhere) < 60:
			elsewhere = append(elsewhere, u)
		}
	}
	toB := otherShard(fromB)

	const writers = 3
	ws := make([]*writer, writers)
	var nextID atomic.Int64
	newWriter := func(seed uint64, users []int64) *writer {
		r, err := shard.New(initial, f.clusters, shard.Config{})
		if err != nil {
			t.Fatal(err)
		}
		w := &writer{router: r, catalog: catalog, users: users, rng: rand.New(rand.NewPCG(seed, 7)), nextID: &nextID, rows: map[int64]row{}}
		for range 300 { // 300 rows or so to start with
			if err := w.step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return w
	}
	for i := range ws {
		ws[i] = newWriter(uint64(i), append(append(append([]int64{}, inBucket...), inB...), elsewhere...)) // mostly the moving buckets
	}
	// late writes only in the two moving buckets, and sleeps through both
	// moves: it wakes up with the first map, after both sources have been
	// cleaned, where an update or delete matches no row on the old shard.
	late := newWriter(writers, append(append([]int64{}, inBucket...), inB...))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer halt() // a failed check must not leave writers behind
	var ops atomic.Int64
	for _, w := range ws {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := w.step(ctx); err != nil {
					t.Error(err)
					return
				}
				ops.Add(1)
			}
		})
	}
	waitOps := func(n int64) { // let the writers make progress between runs
		for target := ops.Load() + n; ops.Load() < target && !t.Failed(); time.Sleep(time.Millisecond) {
		}
	}

	specB := shard.MoveSpec{Bucket: bucketB, To: toB, Tables: []string{"events"}, Batch: 100}
	repB, err := shard.Move(ctx, catalog, dbs, shard.WithHook(specB, func(step string) error {
		if step == "copied" {
			waitOps(200) // writes after the copy: only the catch-up carries them
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if repB.CaughtUp == 0 {
		t.Fatalf("bucket B's move replayed no change: %+v", repB)
	}

	spec := shard.MoveSpec{Bucket: bucket, To: to, Tables: []string{"events"}, Batch: 100}
	// A run killed after the fence leaves the bucket's writes refused until
	// the rerun: the writers block on it, so do not wait for them then.
	prev := ""
	for _, killAt := range []string{"copied-batch", "fenced", "flipped"} {
		if prev != "fenced" {
			waitOps(100)
		}
		prev = killAt
		_, err := shard.Move(ctx, catalog, dbs, shard.WithHook(spec, func(step string) error {
			if step == killAt {
				return errKilled
			}
			return nil
		}))
		if !errors.Is(err, errKilled) {
			t.Fatalf("run killed at %s: %v", killAt, err)
		}
	}
	waitOps(100)
	rep, err := shard.Move(ctx, catalog, dbs, spec)
	if err != nil {
		t.Fatal(err)
	}
	if rep.From != from || rep.Deleted == 0 || rep.Already {
		t.Fatalf("the rerun after the flip should clean up the source: %+v", rep)
	}
	waitOps(100)
	halt()
	if t.Failed() {
		return
	}
	if rep, err := shard.Move(ctx, catalog, dbs, spec); err != nil || !rep.Already {
		t.Fatalf("a finished move reruns as a no-op: %+v, %v", rep, err)
	}
	// Its first write is an update, what the row trigger cannot fence
	// there: it must be refused once, reload, and land on the new shard.
	if err := late.do(ctx, 5); err != nil {
		t.Fatalf("the writer with the first map: %v", err)
	}
	for range 200 {
		if err := late.step(ctx); err != nil {
			t.Fatalf("the writer with the first map: %v", err)
		}
	}
	if late.fenced != 1 || late.router.Map().Version != initial.Version+2 {
		t.Fatalf("the writer with the first map was refused %d times and has map v%d: it should have been refused once, then reloaded", late.fenced, late.router.Map().Version)
	}
	ws = append(ws, late)

	final, err := shard.LoadMap(ctx, catalog)
	if err != nil {
		t.Fatal(err)
	}
	wantMoves := []shard.BucketMove{{Bucket: bucket, From: from, To: to}, {Bucket: bucketB, From: fromB, To: toB}}
	if bucketB < bucket {
		wantMoves[0], wantMoves[1] = wantMoves[1], wantMoves[0]
	}
	if moves, _ := shard.Moves(initial, final); !reflect.DeepEqual(moves, wantMoves) || final.Version != initial.Version+2 {
		t.Fatalf("map v%d -> v%d moves %v, want only %v", initial.Version, final.Version, moves, wantMoves)
	}

	want := map[int64]row{}
	fenced := 0
	for _, w := range ws {
		fenced += w.fenced
		for id, r := range w.rows {
			want[id] = r
		}
	}
	got := map[int64]row{}
	moved := 0
	for _, node := range f.topo.Shards {
		rows, err := dbxtest.Pool(t, node).Query(ctx, `SELECT id, user_id, bucket, body FROM events`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, user int64
			var b int
			var body string
			if err := rows.Scan(&id, &user, &b, &body); err != nil {
				t.Fatal(err)
			}
			if _, dup := got[id]; dup {
				t.Fatalf("id %d is on two shards", id)
			}
			got[id] = row{user, body}
			if owner := final.Owner(b); owner != node.Name {
				t.Fatalf("id %d (bucket %d) is on %s, the map gives its bucket to %s", id, b, node.Name, owner)
			}
			if b == bucket || b == bucketB {
				moved++
			}
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
	}
	for id, r := range want {
		if got[id] != r {
			t.Errorf("id %d: stored %+v, committed %+v", id, got[id], r)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("id %d is stored but was deleted", id)
		}
	}
	t.Logf("%d rows (%d in the moved buckets), %d writes during the moves, %d refused by the fence and retried; bucket B %+v; bucket A's last run %+v", len(want), moved, ops.Load(), fenced, repB, rep)
	if moved < 100 {
		t.Fatalf("only %d rows in the moved bucket: the test moved too little to prove anything", moved)
	}
}

// TestMoveCompositeKeyAndBadInput: a two-column primary key pages through
// several batches; tables a move cannot handle are refused by name.
func TestMoveCompositeKeyAndBadInput(t *testing.T) {
	dbxtest.SkipShort(t)
	t.Parallel()
	f := startFleet(t, shard.Config{})
	ctx := t.Context()
	catalog, dbs := f.catalog(t)
	for _, c := range f.clusters {
		for _, ddl := range []string{
			`CREATE TABLE lines (order_id bigint, line int, bucket int NOT NULL, qty int, PRIMARY KEY (order_id, line))`,
			`CREATE TABLE nokey (bucket int)`,
		} {
			if _, err := c.Exec(ctx, ddl); err != nil {
				t.Fatal(err)
			}
		}
	}
	k := shard.Int(77)
	bucket, from := f.router.Bucket(k), f.router.ShardOf(k)
	for order := int64(1); order <= 3; order++ {
		if _, err := f.router.For(k).Exec(ctx, `INSERT INTO lines SELECT $1, g, $2, g * 10 FROM generate_series(1, 250) g`, order, bucket); err != nil {
			t.Fatal(err)
		}
	}
	to := otherShard(from)
	if _, err := shard.Move(ctx, catalog, dbs, shard.MoveSpec{Bucket: bucket, To: to, Tables: []string{"nokey"}}); err == nil || !strings.Contains(err.Error(), "nokey has no primary key") {
		t.Fatalf("a table without a primary key: %v", err)
	}
	if _, err := shard.Move(ctx, catalog, dbs, shard.MoveSpec{Bucket: bucket, To: "shard9", Tables: []string{"lines"}}); err == nil || !strings.Contains(err.Error(), `target "shard9" is not a shard`) {
		t.Fatalf("an unknown target: %v", err)
	}
	rep, err := shard.Move(ctx, catalog, dbs, shard.MoveSpec{Bucket: bucket, To: to, Tables: []string{"public.lines"}, Batch: 100})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != 750 || rep.Deleted != 750 {
		t.Fatalf("report %+v, want 750 rows copied and deleted", rep)
	}
	var n, sum int
	if err := f.clusters[to].QueryRow(ctx, `SELECT count(*), sum(qty) FROM lines WHERE bucket = $1`, bucket).Scan(&n, &sum); err != nil || n != 750 || sum != 3*10*250*251/2 {
		t.Fatalf("target holds %d lines, qty %d (%v)", n, sum, err)
	}
}
