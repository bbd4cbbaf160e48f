package shard_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/pgfleet/pgfleet/shard"
)

func TestRouterRoutesByMap(t *testing.T) {
	t.Parallel()
	cl := lazyClusters(t, "s0", "s1", "s2")
	m := shard.EvenMap(1, 1024, "s0", "s1", "s2")
	r, err := shard.New(m, cl, shard.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(1000) {
		k := shard.Int(i)
		b := shard.BucketOf(k, 1024)
		if got, want := r.For(k), cl[m.Owner(b)]; got != want || r.ShardOf(k) != m.Owner(b) || r.Bucket(k) != b {
			t.Fatalf("key %d (bucket %d): routed to %v, want %s", i, b, got.Config().Name, m.Owner(b))
		}
	}
	// Moving one bucket changes the answer for its keys only.
	k := shard.Int(7)
	b := r.Bucket(k)
	to := "s0"
	if m.Owner(b) == "s0" {
		to = "s1"
	}
	next, _ := m.WithBucket(b, to)
	if err := r.SetMap(next); err != nil {
		t.Fatal(err)
	}
	if r.For(k) != cl[to] || r.Map().Version != 2 {
		t.Fatalf("after the move key 7 goes to %s, want %s", r.ShardOf(k), to)
	}
	if err := r.SetMap(m); err == nil || !strings.Contains(err.Error(), "not newer") {
		t.Fatalf("an older map must be refused, got %v", err)
	}
}

func TestNewRefusesMismatchedClusters(t *testing.T) {
	t.Parallel()
	cl := lazyClusters(t, "s0", "s1")
	if _, err := shard.New(shard.EvenMap(1, 8, "s0", "s1", "s2"), cl, shard.Config{}); err == nil || !strings.Contains(err.Error(), `shard "s2" but no Cluster`) {
		t.Errorf("missing cluster: %v", err)
	}
	if _, err := shard.New(shard.EvenMap(1, 8, "s0"), cl, shard.Config{}); err == nil || !strings.Contains(err.Error(), `"s1", which the map does not list`) {
		t.Errorf("extra cluster: %v", err)
	}
	if _, err := shard.New(shard.EvenMap(1, 8, "s0", "s1"), cl, shard.Config{HotKeys: shard.HotKeyConfig{Share: 2}}); err == nil || !strings.Contains(err.Error(), "HotKeys.Share") {
		t.Errorf("bad share: %v", err)
	}
}

// TestForIsSafeDuringSetMap runs For on many goroutines while the map flips
// (go test -race finds unsynchronised access).
func TestForIsSafeDuringSetMap(t *testing.T) {
	t.Parallel()
	r := testRouter(t, shard.Config{HotKeys: shard.HotKeyConfig{SampleEvery: 1}})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20000 {
				if r.For(shard.Int(int64(g*100000+i))) == nil {
					t.Error("nil cluster")
					return
				}
			}
		})
	}
	m := r.Map()
	for b := range 50 {
		next, err := m.WithBucket(b, "s2")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.SetMap(next); err != nil {
			t.Fatal(err)
		}
		m = next
	}
	wg.Wait()
	if len(r.HotKeys(10)) != 10 {
		t.Fatal("the detector saw the traffic")
	}
}

func TestForDoesNotAllocateForIntegers(t *testing.T) {
	r := testRouter(t, shard.Config{HotKeys: shard.HotKeyConfig{SampleEvery: 1}})
	i := int64(0)
	if a := testing.AllocsPerRun(10000, func() { i++; r.For(shard.Int(i % 5000)) }); a != 0 {
		t.Fatalf("For(Int) allocates %v times per call with every call sampled", a)
	}
}
