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
// copy whose ctx has no deadline is in flight (dbx's tracer arms it), every
// read and write starts with a deadline between Config.OperationTimeout and
// 1/32 more from now. The bound is per message, so results that keep
// streaming are never cut, and it costs no allocation and no goroutine per
// query, where a context.WithTimeout per call would cost both. The socket's
// deadline is moved only when less than the bound is left (about once per
// bound/32 on a busy connection), not on every read and write: moving it
// costs a runtime timer update and two clock reads (~0.3 µs on a virtual
// machine), several times per statement. A ctx with a deadline is left to
// pgx.

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

// boundedConn sets a deadline on each read and write while armed (a write
// blocks too once a stopped server's receive buffer is full). pgx's context
// watcher sets deadlines of its own to interrupt a cancelled call; those
// win, and mu keeps the two from overwriting each other.
type boundedConn struct {
	net.Conn
	bound time.Duration
	armed atomic.Bool

	mu       sync.Mutex
	external bool          // pgx set a deadline: leave the socket alone
	ours     bool          // a deadline of ours is in force
	until    time.Duration // when it fires, as monoNow

	// inForce is until while a deadline of ours is in force (ours and not
	// external), else 0: arm's lock-free fast path. Written under mu.
	inForce atomic.Int64
}

// boundSlack divides the bound into the most by which a deadline of ours
// may fire later than the bound from a read or write: the price of moving
// the socket's deadline rarely.
const boundSlack = 32

func (c *boundedConn) Read(p []byte) (int, error) {
	c.arm()
	n, err := c.Conn.Read(p)
	return n, c.explain(err)
}

func (c *boundedConn) Write(p []byte) (int, error) {
	c.arm()
	n, err := c.Conn.Write(p)
	return n, c.explain(err)
}

// arm sets the socket's deadline for one read or write: between the bound
// and bound/boundSlack more from now when armed (the one in force, if it is
// that far away, else a new one), none when not (clearing one of ours left
// from the last call).
//
// Most calls find a deadline of ours far enough away and change nothing:
// they do so without the lock. A deadline pgx sets meanwhile (its context
// watcher, from another goroutine) still wins: arm then has not touched
// the socket.
func (c *boundedConn) arm() {
	if c.armed.Load() {
		if u := time.Duration(c.inForce.Load()); u != 0 && u-monoNow() >= c.bound {
			return
		}
	}
	c.mu.Lock()
	if !c.external {
		if c.armed.Load() {
			if now := monoNow(); !c.ours || c.until-now < c.bound {
				c.until = now + c.bound + c.bound/boundSlack
				_ = c.Conn.SetDeadline(monoEpoch.Add(c.until))
				c.ours = true
				c.inForce.Store(int64(c.until))
			}
		} else if c.ours {
			_ = c.Conn.SetDeadline(time.Time{})
			c.ours = false
			c.inForce.Store(0)
		}
	}
	c.mu.Unlock()
}

// explain turns a deadline of ours into a *SilenceError; pgx's own stay as
// they are.
func (c *boundedConn) explain(err error) error {
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	c.mu.Lock()
	ours := c.ours && !c.external
	c.mu.Unlock()
	if ours {
		return &SilenceError{Bound: c.bound, err: err}
	}
	return err
}

func (c *boundedConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.external, c.ours = !t.IsZero(), false
	c.inForce.Store(0)
	return c.Conn.SetDeadline(t)
}

func (c *boundedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.external, c.ours = !t.IsZero(), false
	c.inForce.Store(0)
	return c.Conn.SetReadDeadline(t)
}

func (c *boundedConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.external, c.ours = !t.IsZero(), false
	c.inForce.Store(0)
	return c.Conn.SetWriteDeadline(t)
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
