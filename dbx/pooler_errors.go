package dbx

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// PoolerFullError is a connection refused by a pooler that has all the
// clients it allows: PgBouncer's "no more connections allowed
// (max_client_conn)" (SQLSTATE 08P01). It wraps the *pgconn.PgError;
// [IsServerFull] is true for it, as for the server's own 53300.
type PoolerFullError struct {
	Node string
	Err  *pgconn.PgError
}

func (e *PoolerFullError) Error() string {
	return fmt.Sprintf("dbx: %s pooler refused a connection: %s (SQLSTATE %s); %s", e.Node, e.Err.Message, e.Err.Code, e.Hint())
}

func (e *PoolerFullError) Unwrap() error { return e.Err }

// Hint says what to change.
func (e *PoolerFullError) Hint() string {
	return "the fleet opens more client connections than the pooler accepts: raise the pooler's max_client_conn or its replicas, or lower the pools behind it; declare them in Config.Pooler (MaxClientConn, Replicas) so that Open budgets against them"
}

// StartupParameterError is a connection refused by a pooler because of a
// startup parameter it does not pass on, such as PgBouncer's "unsupported
// startup parameter: statement_timeout" (08P01). dbx sends none behind a
// declared or detected pooler; a DSN that names one, or a pooler that Open
// could not detect (Verify off), gets this error with its fix.
type StartupParameterError struct {
	Node string
	Err  *pgconn.PgError
}

func (e *StartupParameterError) Error() string {
	return fmt.Sprintf("dbx: %s pooler refused a connection: %s (SQLSTATE %s); remove that parameter from the DSN or RuntimeParams (dbx applies statement_timeout and idle_in_transaction_session_timeout itself behind a pooler), declare Config.Pooler (or PGFLEET_POOLER_MODE) when Verify is off, or list it in PgBouncer's ignore_startup_parameters (which drops it silently)", e.Node, e.Err.Message, e.Err.Code)
}

func (e *StartupParameterError) Unwrap() error { return e.Err }

// classifyPooler recognises a pooler's refusals; nil when err is not one.
func classifyPooler(node string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "08P01" {
		return nil
	}
	switch {
	case strings.Contains(pgErr.Message, "max_client_conn"):
		return &PoolerFullError{Node: node, Err: pgErr}
	case strings.Contains(pgErr.Message, "unsupported startup parameter"):
		return &StartupParameterError{Node: node, Err: pgErr}
	}
	return nil
}
