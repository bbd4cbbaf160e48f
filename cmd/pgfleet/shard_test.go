package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/shard"
)

func writeMap(t *testing.T, m *shard.Map) string {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), fmt.Sprintf("map-v%d.json", m.Version))
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// itemShards starts two shards (and a primary, the catalog) with an items
// table on each, and a pool per shard.
func itemShards(t *testing.T) (*dbxtest.Cluster, []*pgxpool.Pool) {
	t.Helper()
	topo := dbxtest.Start(t, dbxtest.Topology{Shards: 2})
	pools := []*pgxpool.Pool{dbxtest.Pool(t, topo.Shards[0]), dbxtest.Pool(t, topo.Shards[1])}
	for _, p := range pools {
		if _, err := p.Exec(t.Context(), `CREATE TABLE items (id bigint PRIMARY KEY, bucket int NOT NULL, name text)`); err != nil {
			t.Fatal(err)
		}
	}
	return topo, pools
}

func TestShardDiffAndUsage(t *testing.T) {
	t.Parallel()
	v1 := writeMap(t, shard.EvenMap(1, 8, "a", "b"))
	v2 := writeMap(t, shard.EvenMap(2, 8, "a", "b", "c"))
	r := pgfleet(t, nil, "shard", "diff", v1, v2)
	// a: 0-3 -> 0-1; b: 4-7 -> 2-4; c: 5-7.
	want := "bucket 2: a -> b\nbucket 3: a -> b\nbucket 5: b -> c\nbucket 6: b -> c\nbucket 7: b -> c\n5 of 8 buckets move\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("diff: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"shard"}, "shard needs an action"},
		{[]string{"shard", "mvoe"}, `did you mean "move"?`},
		{[]string{"shard", "show"}, "no catalog"},
		{[]string{"shard", "move", "--catalog", "postgres://x@h/db", "--to", "b", "--table", "t", "--shard", "a=postgres://x@h/db"}, "pass --bucket N"},
		{[]string{"shard", "move", "--catalog", "postgres://x@h/db", "--shard", "a"}, "want --shard NAME=DSN"},
	} {
		r := pgfleet(t, nil, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: code %d, stderr %q, want %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

func TestShardMoveCommand(t *testing.T) {
	dbxtest.SkipShort(t)
	t.Parallel()
	topo, pools := itemShards(t)
	ctx := t.Context()
	m := shard.EvenMap(1, 64, "shard0", "shard1")
	byName := map[string]int{"shard0": 0, "shard1": 1}
	moving := shard.BucketOf(shard.Int(1), 64)
	inMoving := 0
	for id := int64(1); id <= 500; id++ {
		b := shard.BucketOf(shard.Int(id), 64)
		if b == moving {
			inMoving++
		}
		if _, err := pools[byName[m.Owner(b)]].Exec(ctx, `INSERT INTO items VALUES ($1, $2, 'x')`, id, b); err != nil {
			t.Fatal(err)
		}
	}
	from := m.Owner(moving)
	to := "shard0"
	if from == to {
		to = "shard1"
	}
	catalog := topo.Primary.DSN()
	r := pgfleet(t, nil, "shard", "init", "--catalog", catalog, "--map", writeMap(t, m))
	if r.code != 0 || !strings.Contains(r.stdout, "stored map version 1 (64 buckets on 2 shards)") {
		t.Fatalf("init: %d %s%s", r.code, r.stdout, r.stderr)
	}
	move := []string{"shard", "move", "--shard", "shard0=" + topo.Shards[0].DSN(), "--shard", "shard1=" + topo.Shards[1].DSN(),
		"--bucket", fmt.Sprint(moving), "--to", to, "--table", "items", "--batch", "3"}
	r = pgfleet(t, map[string]string{"PGFLEET_CATALOG_URL": catalog}, move...)
	if wantOut := fmt.Sprintf("bucket %d: %s -> %s: copied %d rows, replayed 0 changes, deleted %d rows from %s; map version 2\n", moving, from, to, inMoving, inMoving, from); r.code != 0 || r.stdout != wantOut {
		t.Fatalf("move: code %d\n%s%s\nwant %s", r.code, r.stdout, r.stderr, wantOut)
	}
	r = pgfleet(t, map[string]string{"PGFLEET_CATALOG_URL": catalog}, move...)
	if r.code != 0 || !strings.Contains(r.stdout, "already on "+to) {
		t.Fatalf("rerun: %d %s%s", r.code, r.stdout, r.stderr)
	}
	for name, i := range byName {
		var inBucket, total int
		if err := pools[i].QueryRow(ctx, `SELECT count(*) FILTER (WHERE bucket = $1), count(*) FROM items`, moving).Scan(&inBucket, &total); err != nil {
			t.Fatal(err)
		}
		if name == from && inBucket != 0 || name == to && inBucket != inMoving {
			t.Fatalf("%s holds %d rows of bucket %d (of %d)", name, inBucket, moving, inMoving)
		}
	}
	r = pgfleet(t, nil, "shard", "show", "--catalog", catalog)
	if got, err := shard.ParseMap([]byte(r.stdout)); err != nil || got.Version != 2 || got.Owner(moving) != to {
		t.Fatalf("show: %v %s", err, r.stdout)
	}
}

// TestShardMoveKilledAndRerun SIGKILLs a `pgfleet shard move` process in the
// middle of its copy, then runs the same command again: every row of the
// bucket ends up on the target exactly once, none on the source.
func TestShardMoveKilledAndRerun(t *testing.T) {
	dbxtest.SkipShort(t)
	t.Parallel()
	topo, pools := itemShards(t)
	ctx := t.Context()
	m := shard.EvenMap(1, 64, "shard0", "shard1")
	moving := shard.BucketOf(shard.Int(1), 64)
	from := m.Owner(moving)
	src, dst := pools[0], pools[1]
	to := "shard1"
	if from == "shard1" {
		src, dst, to = pools[1], pools[0], "shard0"
	}
	var ids []int64
	for id := int64(1); len(ids) < 3000; id++ {
		if shard.BucketOf(shard.Int(id), 64) == moving {
			ids = append(ids, id)
		}
	}
	if _, err := src.Exec(ctx, `INSERT INTO items SELECT id, $2, 'item ' || id FROM unnest($1::bigint[]) id`, ids, moving); err != nil {
		t.Fatal(err)
	}
	catalog := topo.Primary.DSN()
	if r := pgfleet(t, nil, "shard", "init", "--catalog", catalog, "--map", writeMap(t, m)); r.code != 0 {
		t.Fatal(r.stderr)
	}
	args := []string{"shard", "move", "--catalog", catalog, "--shard", "shard0=" + topo.Shards[0].DSN(), "--shard", "shard1=" + topo.Shards[1].DSN(),
		"--bucket", fmt.Sprint(moving), "--to", to, "--table", "items", "--batch", "1"}

	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PGFLEET_TEST_AS_CLI=1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for copied := 0; copied < 100; time.Sleep(time.Millisecond) { // mid-copy: some rows on the target
		select {
		case err := <-exited:
			t.Fatalf("the move finished (%v) before it could be killed: give it more rows\n%s", err, out.String())
		default:
		}
		if err := dst.QueryRow(ctx, `SELECT count(*) FROM items`).Scan(&copied); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited

	r := pgfleet(t, nil, args...)
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("copied %d rows", len(ids))) {
		t.Fatalf("rerun after the kill: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var onDst, distinct, onSrc int
	if err := dst.QueryRow(ctx, `SELECT count(*), count(DISTINCT id) FILTER (WHERE name = 'item ' || id) FROM items WHERE bucket = $1`, moving).Scan(&onDst, &distinct); err != nil {
		t.Fatal(err)
	}
	if err := src.QueryRow(ctx, `SELECT count(*) FROM items`).Scan(&onSrc); err != nil {
		t.Fatal(err)
	}
	if onDst != len(ids) || distinct != len(ids) || onSrc != 0 {
		t.Fatalf("after the rerun: target %d rows (%d intact), source %d; want %d, %d, 0", onDst, distinct, onSrc, len(ids), len(ids))
	}
}
