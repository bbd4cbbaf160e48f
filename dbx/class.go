package dbx

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A latency budget per query class: the caller names what an operation is
// ([WithClass]), Config.Classes says what that class may cost, and dbx holds
// the operation to it end to end. The deadline covers the wait at the gate
// as well as the query, because a request that waited 40 ms for a connection
// has 40 ms less for its query; a budget spent before a connection is taken
// fails there and sends nothing; and the server stops the statement when the
// client gives up (a cancel request, see classWatcher), so an abandoned query
// does not keep its backend busy.

// DefaultClass is the class of work whose ctx names none. Declare a Class
// with this name to give unnamed work a timeout or targets.
const DefaultClass = "default"

// Class is a query class's latency budget. Declare classes in
// Config.Classes; name one for an operation with [WithClass].
type Class struct {
	// Name is what WithClass names, e.g. "orders.list". Letters, digits and
	// . _ - / : only, at most 64 bytes (it is a metric label).
	Name string
	// Timeout bounds every single-statement operation of the class (Exec,
	// Query until its rows are closed, QueryRow, SendBatch, CopyFrom), from
	// the call to the end, the gate wait included: the effective deadline is
	// the earlier of the caller's and now+Timeout. For Begin, Acquire and Tx
	// it bounds the wait for the connection and the BEGIN. Default 0: no
	// class deadline, the caller's ctx alone rules.
	Timeout time.Duration
	// P95 and P99 are the latency targets of the class, exported with its
	// latency so that dashboards and `pgfleet rules` compare the two.
	// Default 0: no target. P99 also defines the error budget: a call that
	// takes longer than P99, or fails, spends it; Objective of the calls
	// may do so.
	P95, P99 time.Duration
	// Objective is the fraction of calls that must finish within P99
	// without error (the SLO): the error budget is 1 - Objective. Default
	// 0.99. In (0, 1).
	Objective float64
}

// DefaultObjective fills Class.Objective.
const DefaultObjective = 0.99

// classNameRE is what a class name may be: a metric label value that reads
// well in a dashboard and cannot smuggle anything into a rule.
var classNameRE = regexp.MustCompile(`^[A-Za-z0-9._\-/:]{1,64}$`)

// maxClasses bounds Config.Classes: each class is a set of series per node
// and ~70 KB of memory per node (two HDR histograms, 6 h of burn-rate slots).
const maxClasses = 64

type classKey struct{}

// WithClass returns a ctx whose dbx operations run under the named class.
// A name that Config.Classes does not declare falls in [DefaultClass] (so a
// typo cannot create unbounded metric series); Cluster.Classes lists the
// declared ones.
func WithClass(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, classKey{}, name)
}

// ClassOf is the class named on ctx, or DefaultClass.
func ClassOf(ctx context.Context) string {
	if name, ok := ctx.Value(classKey{}).(string); ok {
		return name
	}
	return DefaultClass
}

// validateClasses checks Config.Classes; the error names the entry and the fix.
func validateClasses(classes []Class) error {
	if len(classes) > maxClasses {
		return fmt.Errorf("dbx: Config.Classes has %d entries: at most %d (each is a set of metric series per node); group operations into fewer classes", len(classes), maxClasses)
	}
	var errs []error
	seen := map[string]bool{}
	for i, c := range classes {
		bad := func(field string, v any, fix string) {
			errs = append(errs, fmt.Errorf("dbx: Config.Classes[%d] (%q).%s = %v: %s", i, c.Name, field, v, fix))
		}
		if !classNameRE.MatchString(c.Name) {
			bad("Name", fmt.Sprintf("%q", c.Name), "use 1 to 64 letters, digits or . _ - / :, e.g. \"orders.list\"")
		}
		if seen[c.Name] {
			bad("Name", fmt.Sprintf("%q", c.Name), "is declared twice: merge the two entries")
		}
		seen[c.Name] = true
		if c.Timeout < 0 {
			bad("Timeout", c.Timeout, "must be >= 0 (0: no class deadline)")
		}
		if c.P95 < 0 || c.P99 < 0 {
			bad("P95/P99", fmt.Sprintf("%v/%v", c.P95, c.P99), "must be >= 0 (0: no target)")
		}
		if c.P95 > 0 && c.P99 > 0 && c.P95 > c.P99 {
			bad("P95", c.P95, fmt.Sprintf("is above P99 (%v): a 95th percentile cannot exceed the 99th; swap them", c.P99))
		}
		if c.Objective != 0 && (c.Objective <= 0 || c.Objective >= 1) {
			bad("Objective", c.Objective, "must be in (0, 1), e.g. 0.99 (or 0 for the default, 0.99)")
		}
	}
	return errors.Join(errs...)
}

// classSet is the declared classes of a Cluster, with their stats per node.
type classSet struct {
	byName map[string]*Class
	def    *Class
}

func newClassSet(classes []Class) *classSet {
	s := &classSet{byName: make(map[string]*Class, len(classes)+1)}
	for _, c := range classes {
		c := c
		orDefault(&c.Objective, DefaultObjective)
		s.byName[c.Name] = &c
	}
	if s.byName[DefaultClass] == nil {
		s.byName[DefaultClass] = &Class{Name: DefaultClass, Objective: DefaultObjective}
	}
	s.def = s.byName[DefaultClass]
	return s
}

// of resolves ctx's class: an undeclared name is the default class.
func (s *classSet) of(ctx context.Context) *Class {
	if name, ok := ctx.Value(classKey{}).(string); ok {
		if c := s.byName[name]; c != nil {
			return c
		}
	}
	return s.def
}

// classCall is one operation under a class: its ctx (with the class
// deadline when the class has a timeout), its start, and where its latency
// goes when it ends.
type classCall struct {
	class   *Class
	stats   *classStats
	start   time.Duration      // monoNow at the call's start
	granted time.Duration      // monoNow when the gate granted its slot
	cancel  context.CancelFunc // nil without a class deadline
	ended   bool
}

// startClass resolves ctx's class, applies its deadline and refuses a call
// whose budget is already spent (nothing is sent then).
//
// The call is a value, kept on the stack or inside the rows that carry it:
// a heap allocation per query is what this layer must not add.
func (n *Node) startClass(ctx context.Context) (context.Context, classCall, error) {
	c := n.classes.of(ctx)
	call := classCall{class: c, stats: n.classStats(c), start: monoNow()}
	if c.Timeout > 0 {
		d := monoEpoch.Add(call.start + c.Timeout)
		if cd, ok := ctx.Deadline(); !ok || d.Before(cd) {
			ctx, call.cancel = context.WithDeadline(ctx, d)
		}
	}
	if err := ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return ctx, call, call.spent(ctx, "before the call")
		}
		return ctx, call, err
	}
	return ctx, call, nil
}

// admitWithin takes a gate slot for the call, waiting at most timeout; now
// is the caller's clock reading (the call's start on its first try). A
// budget spent in the queue, or found spent once the slot is granted, fails
// here with a *BudgetSpentError, before pgxpool is asked for a connection.
func (n *Node) admitWithin(ctx context.Context, call *classCall, timeout, now time.Duration) error {
	granted, err := n.enterWithin(ctx, timeout, now)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return call.spent(ctx, "waiting for a connection")
		}
		return err
	}
	if err := call.afterGate(ctx); err != nil {
		n.gate.release()
		return err
	}
	call.granted = granted
	return nil
}

// afterGate is checked once the gate granted a slot: a budget spent in the
// queue fails here, before pgxpool is asked for a connection.
func (call *classCall) afterGate(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return call.spent(ctx, "waiting for a connection")
	}
	return nil
}

// spent is the error of a call that ran out of budget before anything was
// sent.
func (call *classCall) spent(ctx context.Context, where string) error {
	return &BudgetSpentError{Class: call.class.Name, Budget: call.class.Timeout, Elapsed: monoNow() - call.start, Where: where, err: context.Cause(ctx)}
}

// end records the call's latency and outcome and releases its deadline. It
// is idempotent: rows may be closed twice.
func (call *classCall) end(err error) { call.endAt(monoNow(), err) }

// endAt is end with the caller's clock reading (monoNow), which the gate's
// release shares.
func (call *classCall) endAt(now time.Duration, err error) { call.endStmt(now, -1, err) }

// endStmt is endAt that records the call's statement's duration too, when
// stmt >= 0 (see lockedHist).
func (call *classCall) endStmt(now, stmt time.Duration, err error) {
	if call.ended || call.stats == nil {
		return
	}
	call.ended = true
	if call.cancel != nil {
		call.cancel()
	}
	call.stats.observe(now, now-call.start, stmt, err)
}

// release ends the class's deadline without recording a latency: for
// Begin and Acquire, whose work goes on under the caller's own ctx.
func (call *classCall) release() {
	call.ended = true
	if call.cancel != nil {
		call.cancel()
	}
}

// classStats is the node's record of class c; the default class's, which
// most calls have, without a map lookup.
func (n *Node) classStats(c *Class) *classStats {
	if c == n.classes.def && n.defStats != nil {
		return n.defStats
	}
	return n.stats[c]
}

// BudgetSpentError is returned when a class's budget (or the caller's
// deadline) ran out before a connection was taken: nothing was sent to the
// server. errors.Is matches context.DeadlineExceeded (or the ctx's cause).
type BudgetSpentError struct {
	Class   string        // the class ([ClassOf])
	Budget  time.Duration // the class's Timeout; 0 when the class has none (the caller's deadline ran out)
	Elapsed time.Duration // time since the call started
	Where   string        // "before the call" or "waiting for a connection"
	err     error
}

func (e *BudgetSpentError) Error() string {
	budget := "the caller's deadline"
	if e.Budget > 0 {
		budget = "its " + e.Budget.String() + " budget (Config.Classes) or the caller's deadline, the earlier"
	}
	return fmt.Sprintf("dbx: class %q spent %s after %s %s: nothing was sent; shorten the wait (a larger pool, fewer slow queries in front) or raise the class's Timeout",
		e.Class, budget, e.Elapsed.Round(time.Microsecond), e.Where)
}

func (e *BudgetSpentError) Unwrap() error { return e.err }

// Timeout makes pgconn.Timeout and net.Error-style checks true.
func (e *BudgetSpentError) Timeout() bool { return true }

// IsQueryCanceled reports whether the server stopped a statement on a
// cancel request or its statement_timeout (SQLSTATE 57014), which is how a
// class deadline ends a running statement.
func IsQueryCanceled(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "57014"
}
