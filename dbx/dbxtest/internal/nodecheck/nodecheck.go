// Package nodecheck holds what the tests of the topology harness's backends
// (local processes in package topology, Docker in package containers) check
// on a node in the same way, so that both backends are held to one contract.
package nodecheck

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// Scalar runs one query on its own connection to n and returns its one
// value; any error fails the test.
func Scalar[T any](t testing.TB, ctx context.Context, n *topology.Node, sql string, args ...any) T {
	t.Helper()
	conn, err := n.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s on %s: %v", sql, n.Name, err)
	}
	return v
}

// PauseResume checks that n, paused, keeps a connection open without
// answering it (a ping times out), and answers again once resumed. what
// names the node in a failure ("server", "container").
func PauseResume(t testing.TB, ctx context.Context, n *topology.Node, what string) {
	t.Helper()
	conn, err := n.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := n.Pause(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = conn.Ping(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Fatalf("ping on a paused %s: %v, want a timeout", what, err)
	}
	if err := n.Resume(); err != nil {
		t.Fatal(err)
	}
	if v := Scalar[int](t, ctx, n, `SELECT 1`); v != 1 {
		t.Fatal("resumed server did not answer")
	}
}

// isTimeout reports an error that says it is a timeout (a socket deadline),
// which a ping on a paused node may return instead of the context's error.
func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
