package dbx

import (
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
// pgx's handler waits 100 ms after sending the cancel before handing the
// connection back, so that a late cancel cannot hit the next statement: a
// cancelled call returns about that much after its deadline, while the
// server has stopped the statement at the deadline.

// classCancelGrace is how long the server has to answer a cancel request
// before the connection is closed after all (a hung server, a lost
// network): the bound of the worst case.
const classCancelGrace = 2 * time.Second

// watchClasses makes a ctx that ends during a statement cancel it on the
// server, when classes are declared.
func (cl *Cluster) watchClasses(cc *pgx.ConnConfig) {
	if len(cl.cfg.Classes) == 0 {
		return
	}
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: classCancelGrace}
	}
}
