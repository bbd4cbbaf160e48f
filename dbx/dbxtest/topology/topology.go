package topology

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Topology describes the servers a test needs. The zero value is one primary.
type Topology struct {
	// Replicas is the number of streaming read replicas of the primary.
	Replicas int
	// Shards is the number of independent servers besides the primary, each
	// a primary of its own (no replicas).
	Shards int
	// Settings are postgresql.conf parameters for every node, on top of the
	// test defaults (fsync=off, full_page_writes=off, synchronous_commit=on,
	// wal_level=replica, wal_keep_size=128MB, shared_buffers=32MB,
	// wal_retrieve_retry_interval=50ms). Example:
	// {"max_connections": "20"}.
	Settings map[string]string
	// NodeSettings override Settings for one node, by node name ("primary",
	// "replica0", "shard1"). A replica's max_connections must be at least its
	// primary's or Postgres refuses to start it.
	NodeSettings map[string]map[string]string
}

func (t Topology) validate() error {
	if t.Replicas < 0 || t.Shards < 0 {
		return fmt.Errorf("topology: Topology{Replicas: %d, Shards: %d}: counts must be >= 0", t.Replicas, t.Shards)
	}
	names := t.nodeNames()
	for name := range t.NodeSettings {
		if !slices.Contains(names, name) {
			return fmt.Errorf("topology: NodeSettings names node %q, which this topology does not have (nodes: %s)", name, strings.Join(names, ", "))
		}
	}
	return nil
}

func (t Topology) nodeNames() []string {
	var names []string
	for _, n := range t.NewCluster("").Nodes() {
		names = append(names, n.Name)
	}
	return names
}

// NewCluster makes the topology's nodes, not yet started: "primary",
// "replica0".., "shard0"... A [Backend] starts them and [Node.Attach]es
// a DSN and a [Control] to each.
func (t Topology) NewCluster(backend string) *Cluster {
	c := &Cluster{Backend: backend, Primary: &Node{Name: "primary", Role: RolePrimary}}
	for i := range t.Replicas {
		c.Replicas = append(c.Replicas, &Node{Name: fmt.Sprintf("replica%d", i), Role: RoleReplica})
	}
	for i := range t.Shards {
		c.Shards = append(c.Shards, &Node{Name: fmt.Sprintf("shard%d", i), Role: RoleShard})
	}
	return c
}

// SettingsFor merges the test defaults, Settings and the node's overrides:
// the postgresql.conf parameters a backend gives the named node.
func (t Topology) SettingsFor(name string) map[string]string {
	s := map[string]string{
		"fsync":              "off",
		"full_page_writes":   "off",
		"synchronous_commit": "on",
		"wal_level":          "replica",
		"wal_keep_size":      "128MB",
		"shared_buffers":     "32MB",
		"max_wal_senders":    "10",
		"hot_standby":        "on",
		// A standby whose primary is not up yet (or restarted) retries every
		// 50 ms, not 5 s.
		"wal_retrieve_retry_interval": "50ms",
	}
	for k, v := range t.Settings {
		s[k] = v
	}
	for k, v := range t.NodeSettings[name] {
		s[k] = v
	}
	return s
}

// Cluster is a running topology. Close (or the test's cleanup) stops every
// node and removes its data.
type Cluster struct {
	Primary  *Node
	Replicas []*Node
	Shards   []*Node
	// Backend names the backend that started the cluster: "local",
	// "testcontainers" or "existing".
	Backend string

	closeOnce sync.Once
	closeErr  error
	release   []func() error
}

// OnClose registers fn to run in [Cluster.Close] after every node is
// destroyed: a backend's own resources (a directory, a network, a database).
func (c *Cluster) OnClose(fn func() error) { c.release = append(c.release, fn) }

// Nodes returns every node: the primary, then replicas, then shards.
func (c *Cluster) Nodes() []*Node {
	nodes := append([]*Node{c.Primary}, c.Replicas...)
	return append(nodes, c.Shards...)
}

// Close stops every node (immediate shutdown) and removes its data. It is
// safe to call more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		var nodes []*Node
		for _, n := range c.Nodes() {
			if n != nil && n.ctl != nil {
				nodes = append(nodes, n)
			}
		}
		errs := []error{Parallel(nodes, func(n *Node) error { return n.ctl.Destroy() })}
		for _, fn := range c.release {
			errs = append(errs, fn())
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// StartTimeout bounds how long dbxtest.Start waits for a whole topology;
// callers of [Launch] choose their own deadline.
const StartTimeout = 2 * time.Minute

// Launch starts the topology: the caller must Close the cluster (tests use
// dbxtest.Start, which does it in their cleanup). On error, whatever was
// started has been stopped. The backend is chosen as the package doc says.
func Launch(ctx context.Context, topo Topology) (*Cluster, error) {
	if err := topo.validate(); err != nil {
		return nil, err
	}
	b, err := chooseBackend(topo)
	if err != nil {
		return nil, err
	}
	c, err := b.Launch(ctx, topo)
	if err != nil {
		if c != nil {
			err = errors.Join(err, c.Close())
		}
		return nil, err
	}
	return c, nil
}
