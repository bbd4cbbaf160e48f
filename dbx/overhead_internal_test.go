package dbx

import (
	"context"
	"net"
	"testing"
	"time"
)

// Per-statement costs of dbx's own bookkeeping, without a server: the
// socket bound on a read and a write (a point select's socket traffic), and
// a gate slot taken and given back with its metrics. They isolate what the
// server round trip hides in BenchmarkPointSelect's noise.

// instantConn is a socket that answers at once: the bound's cost alone.
type instantConn struct{ net.Conn }

func (instantConn) Read(p []byte) (int, error)  { return len(p), nil }
func (instantConn) Write(p []byte) (int, error) { return len(p), nil }
func (instantConn) SetDeadline(time.Time) error { return nil }

func BenchmarkBoundedConn(b *testing.B) {
	c := &boundedConn{Conn: instantConn{}, bound: DefaultStatementTimeout + DefaultOperationMargin}
	c.armed.Store(true)
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.Write(buf)
		_, _ = c.Read(buf)
	}
}

func BenchmarkGateSlot(b *testing.B) {
	m := newMetrics("bench", "bench")
	g := newGate("primary", 64, 64, time.Second, m.observeAcquire("primary"))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			now := monoNow()
			if _, err := g.acquireWithin(ctx, time.Second, now); err != nil {
				b.Error(err)
				return
			}
			g.releaseAt(now)
		}
	})
}
