package topology

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// existing serves single-node topologies from a server the user runs: each
// cluster is a throwaway database on it.
type existing struct{ url string }

func (e existing) Launch(ctx context.Context, topo Topology) (*Cluster, error) {
	admin, err := pgx.Connect(ctx, e.url)
	if err != nil {
		return nil, fmt.Errorf("topology: PGFLEET_TEST_DATABASE_URL: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var b [6]byte
	_, _ = rand.Read(b[:])
	db := "pgfleet_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
		return nil, fmt.Errorf("topology: create database on PGFLEET_TEST_DATABASE_URL: %w", err)
	}
	u, err := url.Parse(e.url)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("topology: PGFLEET_TEST_DATABASE_URL must be a postgres:// URL")
	}
	u.Path = "/" + db
	drop := func() error {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, e.url)
		if err != nil {
			return fmt.Errorf("topology: drop %s: %w", db, err)
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
		return err
	}
	c := &Cluster{Backend: "existing", Primary: &Node{Name: "primary", Role: RolePrimary, dsn: u.String(), ctl: unsupported{}}}
	c.OnClose(drop)
	return c, nil
}

// unsupported is the control of a node that this package does not own.
type unsupported struct{}

func (unsupported) Stop(context.Context) error  { return ErrUnsupported }
func (unsupported) Start(context.Context) error { return ErrUnsupported }
func (unsupported) Kill() error                 { return ErrUnsupported }
func (unsupported) Pause() error                { return ErrUnsupported }
func (unsupported) Resume() error               { return ErrUnsupported }
func (unsupported) Destroy() error              { return nil }
