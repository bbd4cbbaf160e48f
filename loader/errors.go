package loader

import (
	"errors"
	"fmt"
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
