package loader_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/loader"
)

// LoadMany's error names the first KeyErrorsShown failed keys and counts
// the rest, while errors.Is and errors.As see every one (no database:
// -short runs it; TestLoadManyErrorIsShortForManyMissingKeys is the same
// through a real LoadMany).
func TestKeysErrorMessage(t *testing.T) {
	t.Parallel()
	notFound := func(k int) error { return &loader.NotFoundError{Loader: "c", Key: k} }
	few := &loader.KeysError{Loader: "c", Keys: 5, Errs: []error{notFound(1), notFound(4)}}
	if got, want := few.Error(), "loader: c: 2 of 5 keys failed:\nloader: c: key 1: not found\nloader: c: key 4: not found"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var errs []error
	for k := range 5000 {
		errs = append(errs, notFound(k))
	}
	many := &loader.KeysError{Loader: "c", Keys: 6000, Errs: errs}
	msg := many.Error()
	if strings.Count(msg, "\n") != loader.KeyErrorsShown+1 || !strings.HasSuffix(msg, "\n(and 4990 more)") || len(msg) > 1024 {
		t.Errorf("5000 errors: message of %d bytes: %s", len(msg), msg)
	}
	var nf *loader.NotFoundError
	if !errors.Is(many, loader.ErrNotFound) || !errors.As(many, &nf) || nf.Key != 0 {
		t.Errorf("errors.Is/As through KeysError: %v", nf)
	}
}
