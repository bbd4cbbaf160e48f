package dbx

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Fleet quotas: every physical connection of a service holds one slot of the
// service's fleet-wide quota. A slot is a session-level advisory lock
// (key1 = the service's lock space, key2 = the slot number), taken in
// pgxpool's AfterConnect, so Postgres itself releases it when the connection
// ends for any reason: Close, pg_terminate_backend, a SIGKILLed pod, a server
// restart. Nothing is written to any table, so a crashed pod leaks nothing.
//
// Slot numbers [0, reserved) are the guaranteed minimums: a process takes one
// of them only while it holds fewer than QuotaMin, so as long as the fleet
// stays within its declared worst case every process finds its minimum free,
// even when the rest of the quota is taken. Slots [reserved, Quota) are
// shared, first come first served, and come back when their connection is
// closed: after MaxConnIdleTime idle (work-conserving: a busy pod keeps its
// connections and an idle pod's return to the pool of slots), at
// MaxConnLifetime, or on any error.
//
// A connection that finds no slot is closed before it is handed out and the
// gate's effective limit drops to the slots this process holds, so callers
// wait at the gate (bounded by AcquireTimeout, then ErrPoolExhausted) instead
// of the server answering 53300. While callers wait, the limit is raised by
// one at a time to probe for a freed slot, with exponential backoff between
// failed probes (quotaProbeMin..quotaProbeMax, jittered) so that a full quota
// or a restarted server does not turn into a herd of connects.

const (
	// quotaProbeMin is the first delay between probes for a free slot after
	// a refusal; it doubles per refusal up to quotaProbeMax.
	quotaProbeMin = 50 * time.Millisecond
	quotaProbeMax = 2 * time.Second
	// quotaTick is how often the prober looks at the gate (no I/O unless
	// callers are waiting and the limit is below the cap).
	quotaTick = 25 * time.Millisecond
)

// takeSlotSQL tries the slots lo+((start+i) mod n), i = 0..n-1, one at a time
// and stops at the first it gets. A recursive CTE runs one step per row of
// the previous step, so exactly one lock is taken at most; a LIMIT would not
// promise that (the executor may evaluate more rows than it returns).
const takeSlotSQL = `WITH RECURSIVE try(i, got) AS (
	SELECT 0, pg_try_advisory_lock($1::int4, ($2::int4 + $4::int4 % $3::int4))
	UNION ALL
	SELECT i + 1, pg_try_advisory_lock($1::int4, ($2::int4 + ($4::int4 + i + 1) % $3::int4))
	FROM try WHERE NOT got AND i + 1 < $3::int4
)
SELECT $2::int4 + ($4::int4 + i) % $3::int4 FROM try WHERE got`

// quotaPrivSQL checks, at Open, that the role may take advisory locks.
const quotaPrivSQL = `SELECT has_function_privilege('pg_try_advisory_lock(integer, integer)', 'execute')`

// QuotaSpace is the advisory-lock space (key1 of the two-int4 form) that
// holds a service's quota slots: a stable hash of the service name, kept
// positive so that it equals pg_locks.classid. Applications that use
// two-key advisory locks of their own should avoid this key.
func QuotaSpace(service string) int32 {
	h := fnv.New32a()
	h.Write([]byte("pgfleet quota " + service))
	return int32(h.Sum32() & 0x7fffffff)
}

// QuotaError is the failure of a connection that found no free slot of the
// service's quota. Callers of the Cluster rarely see it: the gate turns it
// into a wait. It matches ErrPoolExhausted: nothing was sent.
type QuotaError struct {
	Node    string
	Service string
	Quota   int // the service's slots across the fleet
	Held    int // slots this process held when the connection was refused
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("dbx: %s: every slot of service %q's fleet quota (%d) is held (%d by this process): wait for pods to release idle connections, raise Config.Quota ($PGFLEET_QUOTA), or lower the pool cap of the other pods (Config.MaxConns)",
		e.Node, e.Service, e.Quota, e.Held)
}

// Is makes errors.Is(err, ErrPoolExhausted) true.
func (e *QuotaError) Is(target error) bool { return target == ErrPoolExhausted }

// quota is one node's share of its service's fleet quota.
type quota struct {
	node, service string
	space         int32
	slots         int // Config.Quota
	reserved      int // slots [0, reserved) are the guaranteed minimums
	min, cap      int
	gate          *gate

	mu             sync.Mutex
	held           map[*pgx.Conn]int // slot of each connection of the pool
	heldReserved   int               // of held, in [0, reserved)
	pendingReserve int               // connects that are trying for a reserved slot
	backoff        time.Duration     // current delay between probes; 0 after a success
	nextProbe      time.Time

	refused   atomic.Int64 // connects that found no slot
	pool      atomic.Pointer[pgxpool.Pool]
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// newQuota sizes a node's quota from a Config with defaults filled. The
// gate starts at the guaranteed minimum and grows by probing.
func newQuota(node string, c Config, g *gate) *quota {
	g.setLimit(max(min(c.QuotaMin, c.MaxConns), 1))
	return &quota{
		node: node, service: c.Service, space: QuotaSpace(c.Service),
		slots: c.Quota, reserved: c.quotaReserved(), min: c.QuotaMin, cap: c.MaxConns,
		gate: g, held: map[*pgx.Conn]int{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// hook installs the quota in a pool config, before the user's own
// AfterConnect (a refused connection does no user work) and BeforeClose.
func (q *quota) hook(pc *pgxpool.Config) {
	after, before := pc.AfterConnect, pc.BeforeClose
	pc.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if err := q.afterConnect(ctx, conn); err != nil {
			return err
		}
		if after != nil {
			return after(ctx, conn)
		}
		return nil
	}
	pc.BeforeClose = func(conn *pgx.Conn) {
		if before != nil {
			before(conn)
		}
		q.beforeClose(conn)
	}
}

// quotaReserved is the number of guaranteed slots: QuotaMin for every process
// of the declared worst case, or none when the fleet is not declared (then
// every slot is shared and the minimum is not guaranteed).
func (c Config) quotaReserved() int {
	if c.Quota == 0 || c.Fleet.Pods() == 0 {
		return 0
	}
	d, err := c.Fleet.Demand()
	if err != nil {
		return 0
	}
	return min(d.Slots()*c.QuotaMin, c.Quota)
}

// afterConnect takes a slot for a new connection, or fails so that pgxpool
// closes it before anyone uses it.
func (q *quota) afterConnect(ctx context.Context, conn *pgx.Conn) error {
	q.mu.Lock()
	wantReserved := q.reserved > 0 && q.heldReserved+q.pendingReserve < q.min
	if wantReserved {
		q.pendingReserve++
	}
	q.mu.Unlock()

	slot, err := -1, error(nil)
	if wantReserved {
		slot, err = q.take(ctx, conn, 0, q.reserved)
	}
	if slot < 0 && err == nil && q.slots > q.reserved {
		slot, err = q.take(ctx, conn, q.reserved, q.slots-q.reserved)
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	if wantReserved {
		q.pendingReserve--
	}
	if err != nil {
		return fmt.Errorf("dbx: %s: take a slot of service %q's fleet quota: %w", q.node, q.service, err)
	}
	if slot < 0 {
		q.refuseLocked()
		return &QuotaError{Node: q.node, Service: q.service, Quota: q.slots, Held: len(q.held)}
	}
	q.held[conn] = slot
	if slot < q.reserved {
		q.heldReserved++
	}
	q.backoff, q.nextProbe = 0, time.Time{} // slots are free again: probe at the next tick
	return nil
}

// refuseLocked lowers the gate to the slots held and backs off the next
// probe: a connect was refused a slot, or the server refused it.
func (q *quota) refuseLocked() {
	q.refused.Add(1)
	q.backoff = min(max(2*q.backoff, quotaProbeMin), quotaProbeMax)
	q.nextProbe = time.Now().Add(q.backoff/2 + rand.N(q.backoff/2+1))
	q.gate.setLimit(len(q.held))
}

// refusedBy reports whether err means "no connection for now" under the
// quota, so that the caller waits at the gate: no free slot, or a connect
// the server refused with 53300 (a probe that met a server made full by
// others, or by probes of many pods at once when Quota leaves no room for
// them; a query never gets 53300).
func (q *quota) refusedBy(err error) bool {
	if errors.Is(err, ErrPoolExhausted) {
		return true
	}
	if !IsServerFull(err) {
		return false
	}
	q.mu.Lock()
	q.refuseLocked()
	q.mu.Unlock()
	return true
}

// take tries the n slots from lo, starting at a random one so that pods
// starting together do not contend for the same locks.
func (q *quota) take(ctx context.Context, conn *pgx.Conn, lo, n int) (int, error) {
	if n <= 0 {
		return -1, nil
	}
	var slot int32
	// QueryExecModeExec: one round trip on a fresh connection, and no
	// statement left in its cache.
	err := conn.QueryRow(ctx, takeSlotSQL, pgx.QueryExecModeExec, q.space, int32(lo), int32(n), int32(rand.N(n))).Scan(&slot)
	if errors.Is(err, pgx.ErrNoRows) {
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	return int(slot), nil
}

// beforeClose forgets a connection's slot (the server releases the lock
// when the session ends) and lowers the gate to the slots still held, but
// not below the minimum: after a lull in which idle connections were closed,
// a burst regrows the pool through the prober, one connect at a time, instead
// of every waiter connecting at once into a quota that may be full.
func (q *quota) beforeClose(conn *pgx.Conn) {
	q.mu.Lock()
	defer q.mu.Unlock()
	slot, ok := q.held[conn]
	if !ok {
		return
	}
	delete(q.held, conn)
	if slot < q.reserved {
		q.heldReserved--
	}
	if floor := max(len(q.held), q.min, 1); q.gate.state().Limit > floor {
		q.gate.setLimit(floor)
	}
}

// Held is the number of slots this node's pool holds now.
func (q *quota) Held() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.held)
}

// run raises the gate's limit by one when callers wait, the limit is below
// the cap and no connect is under way, no sooner than the backoff after the
// last refusal allows: the next connect either gets a slot (and keeps the
// raised limit) or is refused (and lowers it again). So a process adds at
// most one connection beyond its slots to the server's backends, and only
// for the length of a connect: keep Quota at most the server's usable
// connections minus the fleet's processes.
func (q *quota) run(pool *pgxpool.Pool) {
	q.pool.Store(pool)
	defer close(q.done)
	t := time.NewTicker(quotaTick)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case now := <-t.C:
			q.probe(now)
		}
	}
}

func (q *quota) probe(now time.Time) {
	q.mu.Lock()
	due := !now.Before(q.nextProbe)
	held := len(q.held)
	q.mu.Unlock()
	if !due {
		return
	}
	if p := q.pool.Load(); p == nil || p.Stat().ConstructingConns() > 0 {
		return // one connect at a time: its answer decides the next
	}
	g := q.gate
	g.mu.Lock()
	raise := g.waiters.Len() > 0 && g.limit < q.cap && g.limit <= max(held, g.inUse)
	if raise {
		g.limit++
		g.grantLocked()
	}
	g.mu.Unlock()
	if raise {
		// One probe at a time: the next waits for this one's answer or
		// the backoff, whichever the connect sets.
		q.mu.Lock()
		q.nextProbe = now.Add(max(q.backoff, quotaTick))
		q.mu.Unlock()
	}
}

// close stops the prober; safe to call more than once, as Cluster.Close is.
func (q *quota) close() {
	q.closeOnce.Do(func() { close(q.stop) })
	<-q.done
}

// checkQuota validates the quota fields of a Config whose MaxConns is final.
func (c Config) checkQuota() error {
	if c.Quota == 0 {
		if c.QuotaMin != 0 {
			return fmt.Errorf("dbx: Config.QuotaMin = %d but service %q declares no quota: set Config.Quota (or $PGFLEET_QUOTA) to the service's connections across the fleet, or leave QuotaMin 0", c.QuotaMin, c.Service)
		}
		return nil
	}
	if c.Share > 0 {
		return fmt.Errorf("dbx: Config.Quota = %d and Config.Share = %g: a quota sizes the fleet at runtime, a share at Open; set one of them", c.Quota, c.Share)
	}
	if d, err := c.Fleet.Demand(); err == nil && c.Fleet.Pods() > 0 && d.Slots()*c.QuotaMin > c.Quota {
		return fmt.Errorf("dbx: Config.Quota = %d cannot guarantee QuotaMin %d to the fleet's %d worst-case processes (%d needed): raise Quota to %d, lower QuotaMin, or lower the fleet's maxReplicas",
			c.Quota, c.QuotaMin, d.Slots(), d.Slots()*c.QuotaMin, d.Slots()*c.QuotaMin)
	}
	return nil
}

// quotaPlan checks a quota against the live server: it must fit the usable
// connections, and the role must be allowed to take advisory locks.
func quotaPlan(ctx context.Context, conn *pgx.Conn, c Config, r *Report) error {
	if c.Quota == 0 {
		return nil
	}
	if usable := r.Server.Usable(); c.Quota > usable {
		return &BudgetError{Report: r, Err: fmt.Errorf("Config.Quota = %d for service %q exceeds the %d connections the server can give (%s): lower the quota to %d or less, or raise max_connections", c.Quota, c.Service, max(usable, 0), r.Server.Explain(), max(usable, 0))}
	}
	var ok bool
	if err := conn.QueryRow(ctx, quotaPrivSQL).Scan(&ok); err != nil {
		return fmt.Errorf("dbx: check that role %q may take advisory locks: %w", r.Role, err)
	}
	if !ok {
		return fmt.Errorf("dbx: role %q may not execute pg_try_advisory_lock(integer, integer), which fleet quotas hold their slots with: GRANT EXECUTE ON FUNCTION pg_try_advisory_lock(integer, integer) TO %s, or set Config.Quota = 0", r.Role, pgx.Identifier{r.Role}.Sanitize())
	}
	if r.RoleConnLimit >= 0 && r.RoleConnLimit != c.Quota && !r.Superuser {
		r.problem("role %q's CONNECTION LIMIT %d disagrees with service %q's quota %d: ALTER ROLE %s CONNECTION LIMIT %d (pgfleet budget roles prints it)",
			r.Role, r.RoleConnLimit, c.Service, c.Quota, pgx.Identifier{r.Role}.Sanitize(), c.Quota)
	}
	return nil
}

// QuotaState is a node's view of its service's fleet quota.
type QuotaState struct {
	Space    int32 // advisory-lock key1 of the slots ([QuotaSpace])
	Quota    int   // the service's slots across the fleet
	Reserved int   // of them, kept for the processes' guaranteed minimums
	Min, Cap int   // this process's guaranteed minimum and cap (MaxConns)
	Held     int   // slots this process's connections hold now
	Refused  int64 // connects that found no free slot
}

// Quota reports the node's share of the fleet quota; ok is false without
// Config.Quota.
func (n *Node) Quota() (s QuotaState, ok bool) {
	q := n.quota
	if q == nil {
		return s, false
	}
	return QuotaState{Space: q.space, Quota: q.slots, Reserved: q.reserved, Min: q.min, Cap: q.cap, Held: q.Held(), Refused: q.refused.Load()}, true
}
