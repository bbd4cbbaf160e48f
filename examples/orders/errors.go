package orders

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfleet/pgfleet/dbx"
)

// ErrNotFound is returned by the repository for a customer (or profile)
// that does not exist: 404.
var ErrNotFound = errors.New("orders: not found")

// InputError is a request the service refuses as given: 400. Its message
// names the field and the rule.
type InputError struct{ msg string }

func (e *InputError) Error() string { return "orders: " + e.msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{msg: fmt.Sprintf(format, args...)}
}

// RetryAfter is the Retry-After header (seconds) of every 503: long enough
// for a queue of a few hundred milliseconds to drain, short enough that a
// client does not give up.
const RetryAfter = "1"

// Outcomes of a request, the kind label of the error answers and the keys
// of Stats' shed counts.
const (
	kindNotFound      = "not_found"
	kindBadInput      = "bad_input"
	kindPoolExhausted = "pool_exhausted" // the gate said no (queue full, acquire timeout, fleet quota): nothing sent
	kindBudgetSpent   = "budget_spent"   // the class's deadline passed before a connection was free: nothing sent
	kindDeadline      = "deadline"       // the class's deadline passed during a statement: the server cancelled it
	kindServerFull    = "server_full"    // a 53300 from a server: the budget should make this impossible
	kindCanceled      = "canceled"       // the client went away
	kindInternal      = "internal"
)

// statusOf maps an error to its HTTP status and a short message that is
// safe to send: never the error's text (which may name hosts and
// statements) for a 5xx.
func statusOf(err error) (status int, kind, msg string) {
	var in *InputError
	var spent *dbx.BudgetSpentError
	switch {
	case errors.As(err, &in):
		return http.StatusBadRequest, kindBadInput, in.msg
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, kindNotFound, "not found"
	case errors.Is(err, dbx.ErrPoolExhausted):
		return http.StatusServiceUnavailable, kindPoolExhausted, "busy: retry later"
	case errors.As(err, &spent):
		return http.StatusServiceUnavailable, kindBudgetSpent, "busy: retry later"
	case dbx.IsServerFull(err):
		return http.StatusServiceUnavailable, kindServerFull, "busy: retry later"
	case errors.Is(err, context.Canceled):
		return 499, kindCanceled, "client closed the request" // nginx's code; nobody reads it
	case errors.Is(err, context.DeadlineExceeded) || dbx.IsQueryCanceled(err) || pgconn.Timeout(err):
		return http.StatusServiceUnavailable, kindDeadline, "too slow: retry later"
	}
	return http.StatusInternalServerError, kindInternal, "internal error"
}
