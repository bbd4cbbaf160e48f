package dbxtest_test

import (
	"testing"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// BenchmarkStartTopology measures a primary + 2 streaming replicas + 3 shards
// from nothing to every node accepting connections (template already built).
func BenchmarkStartTopology(b *testing.B) {
	dbxtest.Start(b, dbxtest.Topology{}) // builds the shared template outside the timer
	b.ResetTimer()
	for b.Loop() {
		c, err := dbxtest.Launch(b.Context(), dbxtest.Topology{Replicas: 2, Shards: 3})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
