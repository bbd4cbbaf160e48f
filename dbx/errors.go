package dbx

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrPoolExhausted is matched (errors.Is) by every *SaturationError: the
// node's pool had no free connection within the acquire timeout, or its wait
// queue was full. Nothing was sent to the server, so the operation is safe
// to retry later; an HTTP handler should answer 503 (or 429) with Retry-After.
var ErrPoolExhausted = errors.New("dbx: pool exhausted")

// SaturationError is returned by every operation that needs a connection when
// the gate refuses one. It carries the wait and the pool state at the moment
// of refusal.
type SaturationError struct {
	Node           string        // the node's name ([Node.Name]): "primary"
	Waited         time.Duration // time spent queued (0 when shed)
	AcquireTimeout time.Duration // the acquire timeout in force
	Shed           bool          // true: the queue was full and the call failed at once
	State          GateState
}

func (e *SaturationError) Error() string {
	if e.Shed {
		return fmt.Sprintf("dbx: %s pool exhausted: %d/%d connections in use and %d callers already waiting (MaxWaiters %d): request shed at once; raise Config.MaxWaiters or the pool size (Config.MaxConns, or Config.Share), or shed load upstream",
			e.Node, e.State.InUse, e.State.Limit, e.State.Waiters, e.State.MaxWaiters)
	}
	return fmt.Sprintf("dbx: %s pool exhausted: no connection free after waiting %s (AcquireTimeout %s, %d/%d in use, %d waiting); hold connections for less time, raise Config.AcquireTimeout, or raise the pool size (Config.MaxConns, or Config.Share)",
		e.Node, e.Waited.Round(time.Microsecond), e.AcquireTimeout, e.State.InUse, e.State.Limit, e.State.Waiters)
}

// Is makes errors.Is(err, ErrPoolExhausted) true.
func (e *SaturationError) Is(target error) bool { return target == ErrPoolExhausted }

// Timeout reports whether the caller waited the full acquire timeout.
func (e *SaturationError) Timeout() bool { return !e.Shed }

// ServerFullError is a connection refused by the server with SQLSTATE 53300:
// "sorry, too many clients already", "remaining connection slots are reserved
// ...", "too many connections for role/database ...". It wraps the
// *pgconn.PgError.
type ServerFullError struct {
	Node string
	Err  *pgconn.PgError
}

func (e *ServerFullError) Error() string {
	return fmt.Sprintf("dbx: %s server refused a connection: %s (SQLSTATE 53300); %s", e.Node, e.Err.Message, e.Hint())
}

func (e *ServerFullError) Unwrap() error { return e.Err }

// Hint says what to change for the kind of limit that was hit.
func (e *ServerFullError) Hint() string {
	switch msg := e.Err.Message; {
	case strings.Contains(msg, "for role"):
		return "the role's CONNECTION LIMIT is reached: raise it (ALTER ROLE ... CONNECTION LIMIT) or lower the pools of the services using this role"
	case strings.Contains(msg, "for database"):
		return "the database's CONNECTION LIMIT is reached: raise it (ALTER DATABASE ... CONNECTION LIMIT) or lower the pools that use it"
	default:
		return "the fleet opens more connections than max_connections allows: size pools from the server (dbx.Config.Share with Config.Fleet), run budgetcheck on the manifests, or put PgBouncer in front (behind one: lower its default_pool_size x (db,user) pairs x replicas, declared in Config.Pooler)"
	}
}

// IsServerFull reports whether err is (or wraps) a 53300 refusal, or a
// pooler's max_client_conn refusal (*PoolerFullError).
func IsServerFull(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "53300" {
		return true
	}
	_, full := classifyPooler("", err).(*PoolerFullError)
	return full
}

// IsRetryable reports whether running the same transaction again may
// succeed: a serialization failure (40001), a deadlock (40P01), or an error
// pgconn knows happened before anything was sent. Saturation is not included:
// retrying at once only deepens the queue.
func IsRetryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return err != nil && pgconn.SafeToRetry(err)
}

// classify turns a 53300 from the server into a *ServerFullError, and a
// pooler's refusals into a *PoolerFullError or *StartupParameterError.
func classify(node string, err error) error {
	var pgErr *pgconn.PgError
	if err != nil && errors.As(err, &pgErr) && pgErr.Code == "53300" {
		return &ServerFullError{Node: node, Err: pgErr}
	}
	if perr := classifyPooler(node, err); perr != nil {
		return perr
	}
	return err
}

// BudgetError is returned by Open when the pool cannot be sized from the
// budget (Err is a *budget.Error that says what to change), or when
// Config.Verify is VerifyFail and the declared fleet does not fit the live
// server (Report.Problems says why).
type BudgetError struct {
	Report *Report
	Err    error
}

func (e *BudgetError) Error() string {
	if e.Err != nil {
		return "dbx: " + e.Err.Error()
	}
	return "dbx: the fleet does not fit the server: " + strings.Join(e.Report.Problems, "; ")
}

func (e *BudgetError) Unwrap() error { return e.Err }
