package shard_test

import (
	"math"
	"testing"

	"github.com/pgfleet/pgfleet/shard"
)

// TestKeyVectors pins key -> hash -> bucket for every key kind. Rows already
// stored sit where these numbers put them: if this test fails, the change
// reshards every deployment silently. Do not update the vectors; revert the
// change.
func TestKeyVectors(t *testing.T) {
	t.Parallel()
	uuid := [16]byte{0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00}
	for _, v := range []struct {
		key        shard.Key
		text       string
		hash       uint64
		b1024, b8k int
	}{
		{shard.Int(0), "0", 0x0000000000000000, 0, 0},
		{shard.Int(1), "1", 0x5692161d100b05e5, 346, 2770},
		{shard.Int(42), "42", 0xa759ea27d4727622, 669, 5355},
		{shard.Int(-1), "-1", 0xb4d055fcf2cbbd7b, 723, 5786},
		{shard.Int(math.MaxInt64), "9223372036854775807", 0x5a682afe7965debd, 361, 2893},
		{shard.Int(math.MinInt64), "-9223372036854775808", 0x25c26ea579cea98a, 151, 1208},
		{shard.String(""), `""`, 0xf52a15e9a9b5e89b, 980, 7845},
		{shard.String("a"), `"a"`, 0x02c0bdbf481420f8, 11, 88},
		{shard.String("user@example.com"), `"user@example.com"`, 0x5f4df3c911933120, 381, 3049},
		{shard.Bytes([]byte{0, 1, 2, 255}), "0x000102ff", 0xdaf17d7b3f038138, 875, 7006},
		{shard.UUID(uuid), "550e8400-e29b-41d4-a716-446655440000", 0x45d659d303e46b84, 279, 2234},
	} {
		if got := v.key.Hash(); got != v.hash {
			t.Errorf("%s: hash %#016x, pinned %#016x", v.text, got, v.hash)
		}
		if got := shard.BucketOf(v.key, 1024); got != v.b1024 {
			t.Errorf("%s: bucket of 1024 = %d, pinned %d", v.text, got, v.b1024)
		}
		if got := shard.BucketOf(v.key, 8192); got != v.b8k {
			t.Errorf("%s: bucket of 8192 = %d, pinned %d", v.text, got, v.b8k)
		}
		if got := v.key.String(); got != v.text {
			t.Errorf("String() = %s, want %s", got, v.text)
		}
	}
	// The building blocks against their published reference values, so the
	// documented hash can be reimplemented elsewhere from its description.
	if got := shard.FNV1a(""); got != 0xcbf29ce484222325 {
		t.Errorf("fnv1a64(\"\") = %#x", got)
	}
	if got := shard.FNV1a("a"); got != 0xaf63dc4c8601ec8c {
		t.Errorf("fnv1a64(\"a\") = %#x", got)
	}
	if got := shard.Mix64(0x9e3779b97f4a7c15); got != 0xe220a8397b1dcdaf { // SplitMix64's first output for seed 0
		t.Errorf("mix64 = %#x", got)
	}
	// Same bytes, same bucket, whatever the key's Go type; different kinds
	// are still different keys.
	if shard.Bytes([]byte("a")).Hash() != shard.String("a").Hash() || shard.Bytes([]byte("a")) == shard.String("a") {
		t.Error("Bytes and String of the same bytes must hash alike and stay distinct keys")
	}
}

func TestBucketsAreBalanced(t *testing.T) {
	t.Parallel()
	const n, buckets = 1 << 20, 1024
	counts := make([]int, buckets)
	for i := range int64(n) { // sequential ids: the common case
		counts[shard.BucketOf(shard.Int(i), buckets)]++
	}
	mean := n / buckets
	for b, c := range counts {
		if c < mean*85/100 || c > mean*115/100 {
			t.Fatalf("bucket %d holds %d sequential ids, mean %d: the hash is not spreading them", b, c, mean)
		}
	}
}
