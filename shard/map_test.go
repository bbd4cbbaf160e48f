package shard_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/shard"
)

func TestMapValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, json, want string
	}{
		{"ok", `{"version":1,"buckets":4,"shards":["a","b"],"ranges":[{"first":0,"last":1,"shard":"a"},{"first":2,"last":3,"shard":"b"}]}`, ""},
		{"gap", `{"version":1,"buckets":4,"shards":["a"],"ranges":[{"first":0,"last":2,"shard":"a"}]}`, "bucket 3 has no shard"},
		{"overlap", `{"version":1,"buckets":4,"shards":["a","b"],"ranges":[{"first":0,"last":2,"shard":"a"},{"first":2,"last":3,"shard":"b"}]}`, `bucket 2 is owned by both "a" and "b"`},
		{"unknown shard", `{"version":1,"buckets":2,"shards":["a"],"ranges":[{"first":0,"last":1,"shard":"x"}]}`, `names shard "x", which is not in`},
		{"out of range", `{"version":1,"buckets":2,"shards":["a"],"ranges":[{"first":0,"last":2,"shard":"a"}]}`, "want 0 <= first <= last <= 1"},
		{"version", `{"version":0,"buckets":2,"shards":["a"],"ranges":[{"first":0,"last":1,"shard":"a"}]}`, "versions start at 1"},
		{"buckets", `{"version":1,"buckets":0,"shards":["a"],"ranges":[]}`, "want 1..1048576"},
		{"dup shard", `{"version":1,"buckets":1,"shards":["a","a"],"ranges":[{"first":0,"last":0,"shard":"a"}]}`, `lists shard "a" twice`},
		{"typo", `{"version":1,"bucket":2,"shards":["a"],"ranges":[]}`, `unknown field "bucket"`},
	} {
		_, err := shard.ParseMap([]byte(c.json))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "shard: ")):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestMovesListOnlyMovedBuckets(t *testing.T) {
	t.Parallel()
	old := shard.EvenMap(1, 12, "a", "b")
	grown := shard.EvenMap(2, 12, "a", "b", "c")
	moves, err := shard.Moves(old, grown)
	if err != nil {
		t.Fatal(err)
	}
	// a: 0-5 -> 0-3, b: 6-11 -> 4-7, c: 8-11.
	want := []shard.BucketMove{{4, "a", "b"}, {5, "a", "b"}, {8, "b", "c"}, {9, "b", "c"}, {10, "b", "c"}, {11, "b", "c"}}
	if !reflect.DeepEqual(moves, want) {
		t.Fatalf("moves %v, want %v", moves, want)
	}
	next, err := old.WithBucket(3, "b")
	if err != nil {
		t.Fatal(err)
	}
	if moves, _ := shard.Moves(old, next); !reflect.DeepEqual(moves, []shard.BucketMove{{3, "a", "b"}}) || next.Version != 2 || next.Validate() != nil {
		t.Fatalf("WithBucket: %+v, moves %v", next, moves)
	}
	if _, err := shard.Moves(old, shard.EvenMap(2, 24, "a", "b")); err == nil {
		t.Fatal("maps with different bucket counts must not compare")
	}
}

func TestReadMapFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "map.json")
	if err := os.WriteFile(p, []byte(`{"version":1,"buckets":2,"shards":["a"],"ranges":[{"first":0,"last":0,"shard":"a"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := shard.ReadMapFile(p); err == nil || !strings.Contains(err.Error(), "bucket 1 has no shard") || !strings.Contains(err.Error(), p) {
		t.Fatalf("got %v, want the problem and the file", err)
	}
}
