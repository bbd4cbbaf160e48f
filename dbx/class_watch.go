package dbx

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// How a class deadline reaches the server. When a statement's ctx ends, pgx
// by default sets a past deadline on the socket: the call returns at once,
// but the connection is closed (the pool must open another: a reconnect per
// timeout, under exactly the load that causes timeouts), and the server
// learns of it only when it next writes to the socket, so the statement
// runs on. A cancel request instead asks the server to stop the statement
// (SQLSTATE 57014); the server answers on the same connection, which stays
// usable. A per-statement `SET statement_timeout` would also stop it, but
// costs a statement on every call, not only on the ones that overrun
// (BENCHMARKS.md measures both).
//
// A single cancel request can be lost: one that reaches the server while
// the statement is still being received or parsed is ignored (the backend
// is "reading a command"), and the statement then runs to its end, past
// the deadline; classbench saw it once in ~100 tries on a loaded machine.
// So the watcher repeats the cancel, with backoff, until the call returns
// or the grace runs out (then the socket deadline closes the connection).
// After the call returns it waits cancelQuarantine from the last cancel
// sent before handing the connection back, as pgx's own handler does: a
// late cancel must not hit the next statement. A cancelled call therefore
// returns about that much after its deadline, while the server has stopped
// the statement at the deadline.

const (
	// classCancelGrace is how long the server has to answer before the
	// connection is closed after all (a hung server, a lost network): the
	// bound of the worst case.
	classCancelGrace = 2 * time.Second
	// cancelRetryFirst is the wait before the first repeat of a cancel;
	// it doubles up to cancelRetryMax.
	cancelRetryFirst = 10 * time.Millisecond
	cancelRetryMax   = 200 * time.Millisecond
	// cancelQuarantine is pgx's: the time a cancel request may take to
	// reach the backend after the server acknowledged it.
	cancelQuarantine = 100 * time.Millisecond
)

// watchClasses makes a ctx that ends during a statement cancel it on the
// server, when classes are declared or behind a pooler (where the
// statement timeout is a per-statement deadline: see Pooler).
func (cl *Cluster) watchClasses(cc *pgx.ConnConfig) {
	if len(cl.cfg.Classes) == 0 && !cl.cfg.Pooler.active() {
		return
	}
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &cancelWatcher{conn: pc}
	}
}

// cancelWatcher is a pgx context-watcher handler that cancels the running
// statement on the server, repeating the cancel until the call returns.
type cancelWatcher struct {
	conn *pgconn.PgConn
	stop chan struct{} // closed when the call has returned
	done chan struct{} // closed when the canceller has finished
}

func (h *cancelWatcher) HandleCancel(context.Context) {
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	deadline := time.Now().Add(classCancelGrace)
	_ = h.conn.Conn().SetDeadline(deadline)
	go h.cancel(deadline)
}

func (h *cancelWatcher) cancel(deadline time.Time) {
	defer close(h.done)
	var last time.Time
	wait := time.Duration(0)
	for time.Now().Before(deadline) {
		t := time.NewTimer(wait)
		select {
		case <-h.stop:
			t.Stop()
			if !last.IsZero() {
				time.Sleep(time.Until(last.Add(cancelQuarantine)))
			}
			return
		case <-t.C:
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		last = time.Now()
		_ = h.conn.CancelRequest(ctx)
		cancel()
		wait = min(max(2*wait, cancelRetryFirst), cancelRetryMax)
	}
	<-h.stop
	time.Sleep(time.Until(last.Add(cancelQuarantine)))
}

func (h *cancelWatcher) HandleUnwatchAfterCancel() {
	close(h.stop)
	<-h.done
	_ = h.conn.Conn().SetDeadline(time.Time{})
}
