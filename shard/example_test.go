package shard_test

import (
	"fmt"

	"github.com/pgfleet/pgfleet/shard"
)

// The bucket of a key depends only on the key and the bucket count: the same
// in every process, every release, and any language that implements the
// documented hash.
func ExampleBucketOf() {
	m := shard.EvenMap(1, 1024, "s0", "s1", "s2")
	for _, k := range []shard.Key{shard.Int(42), shard.String("user@example.com")} {
		b := shard.BucketOf(k, m.Buckets)
		fmt.Printf("%s -> bucket %d -> %s\n", k, b, m.Owner(b))
	}
	// Output:
	// 42 -> bucket 669 -> s1
	// "user@example.com" -> bucket 381 -> s1
}

func ExampleMoves() {
	old := shard.EvenMap(1, 8, "s0", "s1")
	grown := shard.EvenMap(2, 8, "s0", "s1", "s2")
	moves, _ := shard.Moves(old, grown)
	for _, m := range moves {
		fmt.Printf("bucket %d: %s -> %s\n", m.Bucket, m.From, m.To)
	}
	// Output:
	// bucket 2: s0 -> s1
	// bucket 3: s0 -> s1
	// bucket 5: s1 -> s2
	// bucket 6: s1 -> s2
	// bucket 7: s1 -> s2
}
