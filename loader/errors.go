package loader

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is matched (errors.Is) by the error a one-to-one loader
// ([NewOne]) returns for a key the query returned no row for. The error
// itself is a [*NotFoundError] naming the loader and the key. One-to-many
// loaders never return it: a parent without children gets an empty slice.
var ErrNotFound = errors.New("loader: not found")

// ErrNoScope is returned by Load and LoadMany when the context carries no
// scope: loaders keep their batches and cache per request, so a request
// (or job) must open one with [Middleware] or [WithScope] first.
var ErrNoScope = errors.New("loader: no scope in context: wrap the handler in loader.Middleware or call loader.WithScope")

// ErrScopeEnded is returned by Load and LoadMany called with the context of
// a scope that has ended, typically from a goroutine that outlived its
// request.
var ErrScopeEnded = errors.New("loader: scope ended: a Load after the request finished (a goroutine outlived its request?)")

// NotFoundError is the per-key error of a one-to-one loader when the query
// returned no row for Key. It matches [ErrNotFound].
type NotFoundError struct {
	Loader string // Query.Name
	Key    any
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("loader: %s: key %v: not found", e.Loader, e.Key)
}

func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// BatchError is returned to every caller of a batch whose query failed. It
// is never cached: a later Load of the same key, even in the same request,
// runs a new query.
type BatchError struct {
	Loader string // Query.Name
	Keys   int    // number of keys in the failed batch
	Err    error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("loader: %s: batch of %d keys: %v", e.Loader, e.Keys, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// duplicateError is the per-key error of a one-to-one loader whose query
// returned more than one row for a key.
func duplicateError(name string, key any) error {
	return fmt.Errorf("loader: %s: key %v: more than one row (use NewMany for one-to-many)", name, key)
}

// KeyErrorsShown is how many per-key errors the message of a [*KeysError]
// spells out; the rest are counted, not printed.
const KeyErrorsShown = 10

// KeysError is the error of a LoadMany some of whose keys failed. It wraps
// every per-key error (Unwrap() []error, so errors.Is(err, ErrNotFound) and
// errors.As(err, &notFound) work as with errors.Join), but its message
// spells out only the first [KeyErrorsShown] and counts the rest: 5,000
// missing keys make a short message rather than a 180 KB one in a log line.
type KeysError struct {
	Loader string  // Query.Name
	Keys   int     // number of keys asked for
	Errs   []error // one per failed key, in key order
}

func (e *KeysError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "loader: %s: %d of %d keys failed:", e.Loader, len(e.Errs), e.Keys)
	for _, err := range e.Errs[:min(len(e.Errs), KeyErrorsShown)] {
		b.WriteString("\n")
		b.WriteString(err.Error())
	}
	if more := len(e.Errs) - KeyErrorsShown; more > 0 {
		fmt.Fprintf(&b, "\n(and %d more)", more)
	}
	return b.String()
}

func (e *KeysError) Unwrap() []error { return e.Errs }
