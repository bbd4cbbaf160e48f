package orders

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfleet/pgfleet/dbx"
)

// TestStatusOf: every error the handlers can meet maps to its status, and
// no 5xx message carries the error's text.
func TestStatusOf(t *testing.T) {
	secret := errors.New(`connect to postgres://orders:s3cret@db:5432/shop: refused`)
	for _, tc := range []struct {
		err    error
		status int
		kind   string
	}{
		{inputErrorf("limit: %q: bad", "x"), http.StatusBadRequest, kindBadInput},
		{fmt.Errorf("list: %w", ErrNotFound), http.StatusNotFound, kindNotFound},
		{&dbx.SaturationError{Node: "primary", Shed: true}, http.StatusServiceUnavailable, kindPoolExhausted},
		{&dbx.QuotaError{Node: "primary"}, http.StatusServiceUnavailable, kindPoolExhausted},
		{&dbx.BudgetSpentError{Class: ClassList}, http.StatusServiceUnavailable, kindBudgetSpent},
		{&dbx.ServerFullError{Node: "primary", Err: &pgconn.PgError{Code: "53300", Message: "sorry, too many clients already"}}, http.StatusServiceUnavailable, kindServerFull},
		{&pgconn.PgError{Code: "57014", Message: "canceling statement due to user request"}, http.StatusServiceUnavailable, kindDeadline},
		{fmt.Errorf("read: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, kindDeadline},
		{fmt.Errorf("read: %w", context.Canceled), 499, kindCanceled},
		{secret, http.StatusInternalServerError, kindInternal},
	} {
		status, kind, msg := statusOf(tc.err)
		if status != tc.status || kind != tc.kind {
			t.Errorf("%v: %d %s, want %d %s", tc.err, status, kind, tc.status, tc.kind)
		}
		if status >= 500 && (strings.Contains(msg, "s3cret") || strings.Contains(msg, "postgres://") || strings.Contains(msg, "53300")) {
			t.Errorf("%v: message %q shows the error", tc.err, msg)
		}
	}
}

// TestOpenRefusesBadOptions: a clear error naming each field, before any
// connection.
func TestOpenRefusesBadOptions(t *testing.T) {
	_, err := Open(t.Context(), Options{MaxConns: -1, Shards: map[string]string{"": "x"}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, field := range []string{"PrimaryDSN", "Shards", "MaxConns"} {
		if !strings.Contains(err.Error(), "Options."+field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}
