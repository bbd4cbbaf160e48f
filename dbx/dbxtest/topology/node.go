package topology

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Role is what a node is in its topology.
type Role string

const (
	RolePrimary Role = "primary"
	RoleReplica Role = "replica"
	RoleShard   Role = "shard"
)

// Node is one Postgres server of a topology, with the controls that
// reliability tests need to break it.
type Node struct {
	// Name is "primary", "replicaN" or "shardN".
	Name string
	Role Role

	dsn string
	ctl Control
}

// Control is what a [Backend] provides for each node it starts; [Node]'s
// fault methods call it. Stop and Start keep the node's data; Destroy
// removes everything and is idempotent. A control that cannot perform one
// returns [ErrUnsupported].
type Control interface {
	Stop(ctx context.Context) error
	Start(ctx context.Context) error
	Kill() error
	Pause() error
	Resume() error
	Destroy() error
}

// Attach gives a node made by [Topology.NewCluster] its DSN and its
// backend's control. Backends call it; tests never need to.
func (n *Node) Attach(dsn string, ctl Control) { n.dsn, n.ctl = dsn, ctl }

// Control returns the control its backend attached, for backend packages
// that need their own node type back.
func (n *Node) Control() Control { return n.ctl }

// DSN is a URL for the node: user postgres, no password, sslmode=disable.
func (n *Node) DSN() string { return n.dsn }

// String returns the node's name and DSN (which carries no password).
func (n *Node) String() string { return n.Name + " " + n.dsn }

// Stop shuts the node down (fast shutdown: sessions are terminated) and waits
// until it is gone. Its data is kept for [Node.Start].
func (n *Node) Stop(ctx context.Context) error { return n.ctl.Stop(ctx) }

// Start starts a stopped or killed node on the same port and data and waits
// until it accepts connections (after crash recovery if it was killed).
func (n *Node) Start(ctx context.Context) error { return n.ctl.Start(ctx) }

// Kill sends SIGKILL to the postmaster and every backend at once: a crash,
// as when the machine dies. [Node.Start] brings it back through recovery.
func (n *Node) Kill() error { return n.ctl.Kill() }

// Pause stops every process of the node with SIGSTOP: it keeps its sockets,
// the kernel still accepts connections, and nothing answers. A hung server.
func (n *Node) Pause() error { return n.ctl.Pause() }

// Resume continues a paused node.
func (n *Node) Resume() error { return n.ctl.Resume() }

// Connect opens a single connection to the node.
func (n *Node) Connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, n.dsn)
	if err != nil {
		return nil, fmt.Errorf("topology: connect to %s: %w", n.Name, err)
	}
	return conn, nil
}

// TerminateApp terminates every backend whose application_name is appName
// and returns how many were terminated.
func (n *Node) TerminateApp(ctx context.Context, appName string) (int, error) {
	var count int
	err := n.withConn(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName).Scan(&count)
	})
	if err != nil {
		return 0, fmt.Errorf("topology: terminate %q on %s: %w", appName, n.Name, err)
	}
	return count, nil
}

// Promote turns a replica into a primary and waits until it accepts writes.
func (n *Node) Promote(ctx context.Context) error {
	var ok bool
	err := n.withConn(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT pg_promote(wait => true, wait_seconds => 60)`).Scan(&ok)
	})
	if err == nil && !ok {
		err = fmt.Errorf("pg_promote returned false")
	}
	if err != nil {
		return fmt.Errorf("topology: promote %s: %w", n.Name, err)
	}
	n.Role = RolePrimary
	return nil
}

// WaitReplay waits until the node (a replica) has replayed WAL up to lsn, as
// returned by pg_current_wal_lsn() on its primary.
func (n *Node) WaitReplay(ctx context.Context, lsn string) error {
	return n.withConn(ctx, func(conn *pgx.Conn) error {
		for {
			var done bool
			err := conn.QueryRow(ctx, `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn).Scan(&done)
			if err != nil || done {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("topology: %s did not replay up to %s: %w", n.Name, lsn, ctx.Err())
			case <-time.After(time.Millisecond):
			}
		}
	})
}

func (n *Node) withConn(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := n.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(conn)
}

// NodeForDSN returns a node for a server that this package does not own, named
// "external": SQL controls (Connect, TerminateApp, Promote, WaitReplay) work,
// process faults return [ErrUnsupported].
func NodeForDSN(dsn string) *Node {
	return &Node{Name: "external", Role: RolePrimary, dsn: dsn, ctl: unsupported{}}
}

// WaitStreaming waits until a standby's WAL receiver streams from its
// primary, so that a test's first write reaches it without a reconnect delay.
func (n *Node) WaitStreaming(ctx context.Context) error {
	return n.withConn(ctx, func(conn *pgx.Conn) error {
		for {
			var streaming bool
			err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')`).Scan(&streaming)
			if err != nil || streaming {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("topology: %s is not streaming from the primary: %w", n.Name, ctx.Err())
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
}

// Parallel runs fn for every node at once and joins the errors: backends
// start and stop nodes with it.
func Parallel(nodes []*Node, fn func(*Node) error) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = fn(n) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
