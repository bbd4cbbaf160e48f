package dbx

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Every wait is bounded, the wait for the server's answer included. pgx has
// no read timeout of its own: it stops waiting only when the ctx ends, so a
// query with a ctx without deadline on a stopped server (SIGSTOP, a frozen
// VM, a network that drops without a reset) would wait for as long as that
// lasts: TCP keepalives do not help, the peer's kernel still acknowledges.
//
// dbx wraps each connection's socket (boundedConn). While a query, batch or
// copy whose ctx has no deadline is in flight (dbx's tracer arms it), the
// socket carries a deadline of ours at most bound/32 ahead: a check. When
// it fires during a read or write, the check looks whether anything moved
// on the socket since the last one (a read or write begun, or bytes through);
// if so it sets the next check and carries on with the same read or write,
// else once the silence reaches the bound it fails the call. The bound is
// per message, so results that keep streaming are never cut, and a silence
// is cut after at least OperationTimeout and at most 1/32 more. The cost
// stays off the path of each read and write: no clock read, no lock and no
// deadline move there (a clock read is ~25-60 ns on a virtual machine, a
// deadline move a runtime timer update), only an atomic count; the clock is
// read at the checks, at most every bound/32 on a busy connection and once
// for a statement that comes after a quiet spell. It costs no allocation
// and no goroutine per query, where a context.WithTimeout per call would
// cost both. A ctx with a deadline is left to pgx.

// defaultOperationTimeout is the session's statement timeout plus
// DefaultOperationMargin, or -1 (no bound) when the session has none.
func (c Config) defaultOperationTimeout() time.Duration {
	st := c.StatementTimeout
	if v, ok := c.Pool.ConnConfig.RuntimeParams["statement_timeout"]; ok {
		d, ok := parseServerDuration(v)
		if !ok {
			return -1 // the server refuses the value at connect anyway
		}
		st = d
	}
	if st <= 0 {
		return -1
	}
	return st + DefaultOperationMargin
}

// parseServerDuration reads a Postgres time setting: a number with an
// optional unit (us, ms, s, min, h, d); no unit means milliseconds.
func parseServerDuration(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	i := strings.IndexFunc(v, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	num, unit := v, "ms"
	if i >= 0 {
		num, unit = v[:i], strings.TrimSpace(v[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	scale := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[unit]
	if scale == 0 || f*float64(scale) > float64(1<<62) {
		return 0, false
	}
	return time.Duration(f * float64(scale)), true
}

// boundDial wraps a pgconn DialFunc so that its connections are bounded.
func boundDial(dial pgconn.DialFunc, bound time.Duration) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &boundedConn{Conn: c, bound: bound}, nil
	}
}

// boundedConn bounds each read and write while armed (a write blocks too
// once a stopped server's receive buffer is full). pgx's context watcher
// sets deadlines of its own to interrupt a cancelled call; those win, and
// mu keeps the two from overwriting each other.
type boundedConn struct {
	net.Conn
	bound time.Duration
	armed atomic.Bool
	// moved counts reads and writes begun and retried ones that got bytes
	// through: a check that finds it unchanged found the socket silent.
	moved atomic.Int64
	// ours: a deadline of ours is in force (never with an external one);
	// read without mu by the fast path, written under mu.
	ours atomic.Bool

	mu       sync.Mutex
	external bool          // pgx set a deadline: leave the socket alone
	heard    time.Duration // monoNow at the last check that found movement (or the first deadline): the silence runs from here at the latest
	seen     int64         // moved at that check
}

// boundSlack divides the bound into the longest time between two checks:
// the most by which a silence may be cut later than the bound.
const boundSlack = 32

// period is the time between two checks of a waiting read or write.
func (c *boundedConn) period() time.Duration {
	return max(c.bound/boundSlack, min(c.bound, time.Millisecond))
}

func (c *boundedConn) Read(p []byte) (int, error) {
	c.ready()
	c.moved.Add(1)
	for {
		n, err := c.Conn.Read(p)
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if n > 0 { // bytes and our check at once: the next read meets the check
			c.moved.Add(1)
			return n, nil
		}
		if err := c.check(err); err != nil {
			return 0, err
		}
	}
}

func (c *boundedConn) Write(p []byte) (int, error) {
	c.ready()
	c.moved.Add(1)
	done := 0
	for {
		n, err := c.Conn.Write(p[done:])
		done += n
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return done, err
		}
		if n > 0 {
			c.moved.Add(1)
		}
		if err := c.check(err); err != nil {
			return done, err
		}
	}
}

// ready puts a deadline of ours on the socket when the call is armed and
// none is in force (the connection's first armed call, or after pgx's own
// deadline): two atomic loads otherwise.
func (c *boundedConn) ready() {
	if !c.armed.Load() || c.ours.Load() {
		return
	}
	c.mu.Lock()
	if c.armed.Load() && !c.external && !c.ours.Load() {
		now := monoNow()
		c.heard, c.seen = now, c.moved.Load()
		c.setLocked(now + c.period())
	}
	c.mu.Unlock()
}

// check runs when a read or write met a deadline: nil to carry on with it
// (after setting the next check), or the error to return. A deadline of
// pgx's is its error as it is; one of ours on a call no longer armed is
// taken off; on an armed call, a socket silent for the bound since the last
// movement is a *SilenceError.
func (c *boundedConn) check(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ours.Load() {
		return err
	}
	if !c.armed.Load() {
		_ = c.Conn.SetDeadline(time.Time{})
		c.ours.Store(false)
		return nil
	}
	now := monoNow()
	if moved := c.moved.Load(); moved != c.seen {
		c.heard, c.seen = now, moved
	} else if now-c.heard >= c.bound {
		return &SilenceError{Bound: c.bound, err: err}
	}
	c.setLocked(min(now+c.period(), c.heard+c.bound))
	return nil
}

// setLocked puts a deadline of ours at u (monoNow); c.mu held.
func (c *boundedConn) setLocked(u time.Duration) {
	_ = c.Conn.SetDeadline(monoEpoch.Add(u))
	c.ours.Store(true)
}

func (c *boundedConn) SetDeadline(t time.Time) error { return c.setExternal(t, c.Conn.SetDeadline) }

func (c *boundedConn) SetReadDeadline(t time.Time) error {
	return c.setExternal(t, c.Conn.SetReadDeadline)
}

func (c *boundedConn) SetWriteDeadline(t time.Time) error {
	return c.setExternal(t, c.Conn.SetWriteDeadline)
}

// setExternal hands the socket to pgx's deadline t (ours is off, and stays
// off while t is set), or back to the bound when t is zero.
func (c *boundedConn) setExternal(t time.Time, set func(time.Time) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.external = !t.IsZero()
	c.ours.Store(false)
	return set(t)
}

// SilenceError is the cause of a call that waited Config.OperationTimeout for
// the server's next message. pgconn.Timeout reports true for the error the
// call returns, and errors.As finds this one in it.
type SilenceError struct {
	Bound time.Duration
	err   error
}

func (e *SilenceError) Error() string {
	return "dbx: no progress with the server for " + e.Bound.String() +
		" (Config.OperationTimeout): it is stopped, hung or unreachable, and the connection was closed; give the call a ctx deadline, or raise OperationTimeout if statements legitimately run longer"
}

// Timeout makes the error a net.Error timeout, as pgconn expects of a read
// deadline.
func (e *SilenceError) Timeout() bool   { return true }
func (e *SilenceError) Temporary() bool { return false }
func (e *SilenceError) Unwrap() error   { return e.err }

// boundOf finds a pgx connection's boundedConn, under TLS too; nil when the
// connection is not bounded.
func boundOf(conn *pgx.Conn) *boundedConn {
	if conn == nil {
		return nil
	}
	nc := conn.PgConn().Conn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	bc, _ := nc.(*boundedConn)
	return bc
}

// armBound bounds the reads of a call whose ctx has no deadline.
func armBound(ctx context.Context, conn *pgx.Conn) {
	if _, ok := ctx.Deadline(); ok {
		return
	}
	if bc := boundOf(conn); bc != nil {
		bc.armed.Store(true)
	}
}

func disarmBound(conn *pgx.Conn) {
	if bc := boundOf(conn); bc != nil {
		bc.armed.Store(false)
	}
}

// Batches and copies are bounded as queries are: the timer implements
// pgx's BatchTracer and CopyFromTracer for that alone.

func (queryTimer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	armBound(ctx, conn)
	return ctx
}

func (queryTimer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (queryTimer) TraceBatchEnd(_ context.Context, conn *pgx.Conn, _ pgx.TraceBatchEndData) {
	disarmBound(conn)
}

func (queryTimer) TraceCopyFromStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	armBound(ctx, conn)
	return ctx
}

func (queryTimer) TraceCopyFromEnd(_ context.Context, conn *pgx.Conn, _ pgx.TraceCopyFromEndData) {
	disarmBound(conn)
}
