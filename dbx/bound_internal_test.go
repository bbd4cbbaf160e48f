package dbx

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// The socket bound checks for movement only when its deadline fires; these
// pin what that must still guarantee, over a net.Pipe (deadlines work on it
// as on a TCP socket). Only lower bounds on time are asserted: a silence is
// never cut before the bound.

// 300 ms: the "not cut" tests leave the client a slack of a fraction of a
// bound to wake up in, which a loaded 2-core machine (the race run beside
// the database tests) must not eat.
const testBound = 300 * time.Millisecond

// boundedPipe is an armed boundedConn and the server's end of its pipe.
func boundedPipe(t *testing.T) (*boundedConn, net.Conn) {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	c := &boundedConn{Conn: client, bound: testBound}
	c.armed.Store(true)
	return c, server
}

// A result that keeps streaming, one message per bound/4 for three bounds,
// is read to its end: the bound is on the silence, not the call.
func TestBoundKeepsStreamingResults(t *testing.T) {
	t.Parallel()
	c, server := boundedPipe(t)
	const msgs = 12
	go func() {
		for range msgs {
			time.Sleep(testBound / 4)
			if _, err := server.Write([]byte{1}); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 1)
	for i := range msgs {
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("message %d of a result that streams: %v", i, err)
		}
	}
}

// A silent server is cut with a *SilenceError, not before the bound, on a
// read and on a write that blocks (the server reads nothing).
func TestBoundCutsSilence(t *testing.T) {
	t.Parallel()
	for _, op := range []struct {
		name string
		do   func(*boundedConn) error
	}{
		{"read", func(c *boundedConn) error { _, err := c.Read(make([]byte, 1)); return err }},
		{"write", func(c *boundedConn) error { _, err := c.Write(make([]byte, 1)); return err }},
	} {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			c, _ := boundedPipe(t)
			start := time.Now()
			err := op.do(c)
			var silence *SilenceError
			if !errors.As(err, &silence) || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("silent server: %v, want a *SilenceError wrapping the deadline", err)
			}
			if waited := time.Since(start); waited < testBound {
				t.Fatalf("cut after %s, before the bound %s", waited, testBound)
			}
		})
	}
}

// A write that moves, slowly, is not cut: the server reads a byte per
// bound/4.
func TestBoundKeepsSlowWrites(t *testing.T) {
	t.Parallel()
	c, server := boundedPipe(t)
	const size = 8
	go func() {
		buf := make([]byte, 1)
		for range size {
			time.Sleep(testBound / 4)
			if _, err := server.Read(buf); err != nil {
				return
			}
		}
	}()
	if n, err := c.Write(make([]byte, size)); err != nil || n != size {
		t.Fatalf("slow reader: wrote %d of %d: %v", n, size, err)
	}
}

// The client pausing (not reading) for longer than the bound is no silence
// of the server: the read after the pause waits its own bound.
func TestBoundClientPauseIsNotSilence(t *testing.T) {
	t.Parallel()
	c, server := boundedPipe(t)
	go func() {
		_, _ = server.Write([]byte{1})
		time.Sleep(2*testBound + testBound/2)
		_, _ = server.Write([]byte{2})
	}()
	buf := make([]byte, 1)
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * testBound) // the client works on its rows
	if _, err := c.Read(buf); err != nil || buf[0] != 2 {
		t.Fatalf("read after the client's pause: %v", err)
	}
}

// Disarmed (the statement ended, or the next has a deadline of its own), a
// deadline of ours left on the socket fails nothing.
func TestBoundDisarmedWaitsUnbounded(t *testing.T) {
	t.Parallel()
	c, server := boundedPipe(t)
	go func() {
		_, _ = server.Write([]byte{1})
		time.Sleep(2 * testBound)
		_, _ = server.Write([]byte{2})
	}()
	buf := make([]byte, 1)
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	c.armed.Store(false)
	if _, err := c.Read(buf); err != nil || buf[0] != 2 {
		t.Fatalf("disarmed read: %v", err)
	}
	if c.ours.Load() {
		t.Fatal("a deadline of ours left in force after a disarmed read met it")
	}
}

// pgx's own deadline (its context watcher interrupting a cancelled call)
// wins: its error comes back as it is, not as a silence.
func TestBoundLeavesPgxDeadline(t *testing.T) {
	t.Parallel()
	c, _ := boundedPipe(t)
	if err := c.SetDeadline(time.Now().Add(testBound / 8)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 1))
	var silence *SilenceError
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &silence) {
		t.Fatalf("pgx's deadline: %v, want its own deadline error", err)
	}
}
