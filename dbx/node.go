package dbx

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Node is one server of a Cluster: a pgxpool behind a gate. Every operation
// takes a gate slot first, so pgxpool itself never queues.
type Node struct {
	name string
	pool *pgxpool.Pool
	gate *gate
	log  *slog.Logger
	// quota is the node's share of the service's fleet quota; nil without
	// Config.Quota.
	quota *quota
	// secrets are the DSN's secrets, hidden from errors of lazy connects
	// (see scrub).
	secrets []string

	lastLog atomic.Int64 // unix nanos of the last saturation warning

	// Latency classes (class.go): the declarations and this node's stats.
	classes  *classSet
	stats    map[*Class]*classStats
	defStats *classStats // stats[classes.def]
	// Little's law readings (capacity.go).
	capacity *capacityState
}

// Name is "primary", or "replica" + its index in Config.ReadReplicas.DSNs.
func (n *Node) Name() string { return n.name }

// Pool is the underlying pgxpool, for what dbx does not wrap. Work done on it
// directly bypasses the gate and its limits.
func (n *Node) Pool() *pgxpool.Pool { return n.pool }

// SetLimit changes the node's effective connection limit at runtime, between
// 1 and the pool's MaxConns. Lowering it takes no connection away from its
// holder; new acquires wait for releases. Fleet quotas use it.
func (n *Node) SetLimit(limit int) error {
	if max := int(n.pool.Config().MaxConns); limit < 1 || limit > max {
		return &LimitError{Node: n.name, Limit: limit, Max: max}
	}
	n.gate.setLimit(limit)
	return nil
}

// Stat reports the gate's and the pool's state.
func (n *Node) Stat() NodeStat {
	ps := n.pool.Stat()
	return NodeStat{Gate: n.gate.state(), Total: int(ps.TotalConns()), Idle: int(ps.IdleConns()), Acquired: int(ps.AcquiredConns()), MaxConns: int(ps.MaxConns())}
}

// NodeStat is a snapshot of a node's gate and pool.
type NodeStat struct {
	Gate     GateState
	Total    int // open connections
	Idle     int
	Acquired int
	MaxConns int // the pool's fixed ceiling
}

// saturationLogEvery rate-limits the saturation warning: under overload every
// call fails, and one line per call would add to the overload.
const saturationLogEvery = 10 * time.Second

// enterWithin takes a gate slot, waiting at most timeout (AcquireTimeout, or
// what is left of it when a fleet-quota refusal sent the caller back); now
// is the caller's clock reading.
func (n *Node) enterWithin(ctx context.Context, timeout, now time.Duration) (time.Duration, error) {
	n.capacityTick(now)
	granted, err := n.gate.acquireWithin(ctx, timeout, now)
	if err != nil {
		n.noteRefusal(err)
	}
	return granted, err
}

// noteRefusal logs a saturation, at most once per saturationLogEvery. It is
// apart from enter so that the hot path allocates nothing for errors.As.
func (n *Node) noteRefusal(err error) {
	var sat *SaturationError
	if !errors.As(err, &sat) {
		return
	}
	now, last := time.Now().UnixNano(), n.lastLog.Load()
	if now-last >= int64(saturationLogEvery) && n.lastLog.CompareAndSwap(last, now) {
		n.log.Warn("dbx: pool saturated", "node", n.name, "shed", sat.Shed, "waited", sat.Waited,
			"in_use", sat.State.InUse, "limit", sat.State.Limit, "waiters", sat.State.Waiters,
			"shed_total", n.gate.shed.Load(), "timeouts_total", n.gate.timeouts.Load())
	}
}

// held runs fn holding a gate slot for its duration, under ctx's class
// (class.go): fn gets the ctx with the class deadline.
func held[T any](ctx context.Context, n *Node, fn func(context.Context) (T, error)) (T, error) {
	var c classCall
	v, err := taken(ctx, n, func(ctx context.Context, call classCall) (T, error) {
		c = call
		return fn(ctx)
	})
	if err == nil {
		now := monoNow()
		n.gate.releaseAt(now)
		c.endAt(now, nil)
	}
	return v, err
}

// fail classifies an error from pgx and hides the DSN's secrets in it; only
// error paths pay for it.
func (n *Node) fail(err error) error {
	return scrub(classify(n.name, err), n.secrets)
}

// taken runs fn with a gate slot that stays taken when fn succeeds: what fn
// returns (rows, a transaction, a connection) gives the slot back when done,
// and ends the class call it is given (or fn ends it at once).
//
// A connection refused a slot of the fleet quota (*QuotaError) sends the
// caller back to the gate, whose limit the refusal lowered, for what is left
// of AcquireTimeout: the caller waits as for any full pool.
func taken[T any](ctx context.Context, n *Node, fn func(context.Context, classCall) (T, error)) (T, error) {
	var zero T
	ctx, call, err := n.startClass(ctx)
	if err != nil {
		call.end(err)
		return zero, err
	}
	timeout, deadline, now := n.gate.timeout, time.Duration(0), call.start
	for {
		if err := n.admitWithin(ctx, &call, timeout, now); err != nil {
			call.end(err)
			return zero, err
		}
		v, err := fn(ctx, call)
		if err == nil {
			return v, nil
		}
		n.gate.release()
		if n.quota != nil && n.quota.refusedBy(err) {
			now = monoNow()
			if deadline == 0 {
				deadline = now + n.gate.timeout
			}
			if deadline > now {
				timeout = deadline - now
				continue
			}
		}
		err = n.fail(err)
		call.end(err)
		return zero, err
	}
}

func (n *Node) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return held(ctx, n, func(ctx context.Context) (pgconn.CommandTag, error) { return n.pool.Exec(ctx, sql, args...) })
}

func (n *Node) copyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	return held(ctx, n, func(ctx context.Context) (int64, error) { return n.pool.CopyFrom(ctx, table, cols, src) })
}

func (n *Node) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := n.gatedQuery(ctx, sql, args...)
	if err != nil {
		return errRows{err}, err
	}
	return rows, nil
}

func (n *Node) gatedQuery(ctx context.Context, sql string, args ...any) (*gatedRows, error) {
	return taken(ctx, n, func(ctx context.Context, call classCall) (*gatedRows, error) {
		g := newGatedRows()
		g.gate, g.call = n.gate, call
		g.timed.Context, g.timed.byRows, g.timed.start = ctx, call.stats != nil, call.granted
		rows, err := n.pool.Query(&g.timed, sql, args...)
		if err != nil {
			if _, took, ok := g.timed.ended(); ok && g.timed.byRows {
				call.stats.observeStatement(took) // the call itself ends in taken
			}
			return nil, err
		}
		g.Rows = rows
		return g, nil
	})
}

func (n *Node) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := n.gatedQuery(ctx, sql, args...)
	if err != nil {
		return errRow{err}
	}
	return (*gatedRow)(rows)
}

func (n *Node) sendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	ctx, call, err := n.startClass(ctx)
	if err == nil {
		err = n.admitWithin(ctx, &call, n.gate.timeout, call.start)
	}
	if err != nil {
		call.end(err)
		return errBatch{err}
	}
	return &gatedBatch{BatchResults: n.pool.SendBatch(ctx, b), node: n, call: call}
}

func (n *Node) beginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	return taken(ctx, n, func(ctx context.Context, call classCall) (pgx.Tx, error) {
		tx, err := n.pool.BeginTx(ctx, opts)
		if err != nil {
			return nil, err
		}
		call.release() // the class bounds the wait and BEGIN; the statements have their own ctx
		return &gatedTx{Tx: tx, gate: n.gate}, nil
	})
}

func (n *Node) acquire(ctx context.Context) (*Conn, error) {
	return taken(ctx, n, func(ctx context.Context, call classCall) (*Conn, error) {
		c, err := n.pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		call.release() // the class bounds the wait for the connection
		return &Conn{conn: c, gate: n.gate}, nil
	})
}

// LimitError rejects an effective limit outside [1, MaxConns].
type LimitError struct {
	Node       string
	Limit, Max int
}

func (e *LimitError) Error() string {
	return "dbx: " + e.Node + ": effective limit " + strconv.Itoa(e.Limit) + " outside [1, " + strconv.Itoa(e.Max) + "]: the pool's MaxConns is the ceiling; raise the budget to go higher"
}
