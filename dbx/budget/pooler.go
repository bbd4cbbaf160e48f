package budget

import "fmt"

// PgBouncer's defaults (pgbouncer.ini), used where a pooler's settings are
// not stated.
const (
	PgBouncerMaxClientConn   = 100 // max_client_conn
	PgBouncerDefaultPoolSize = 20  // default_pool_size
)

// Pooler is a connection pooler (PgBouncer) between a fleet and its server,
// as the budget sees it. It has two sides: clients connect to the pooler and
// are limited by max_client_conn per pooler process; the pooler connects to
// the server with a pool per (database, user) pair per process. Fields are
// taken literally: zero means zero.
type Pooler struct {
	// MaxClientConn is max_client_conn of one pooler process.
	MaxClientConn int
	// PoolSize is the server connections of one (database, user) pair in one
	// pooler process: default_pool_size + reserve_pool_size.
	PoolSize int
	// Pairs is the number of (database, user) pairs the pooler serves.
	Pairs int
	// Replicas is the number of pooler processes (pods x processes).
	Replicas int
}

// ClientSide is the pooler as a server for its clients: max_client_conn x
// replicas connections, none reserved. Budget a fleet behind the pooler
// against it ([PoolFor], [Check]).
func (p Pooler) ClientSide() Server {
	return Server{MaxConnections: Mul(p.MaxClientConn, p.Replicas)}
}

// ExplainClients spells out [Pooler.ClientSide], e.g.
// "pooler clients 200 = max_client_conn 100 x pooler replicas 2".
func (p Pooler) ExplainClients() string {
	return fmt.Sprintf("pooler clients %d = max_client_conn %d x pooler replicas %d", p.ClientSide().MaxConnections, p.MaxClientConn, p.Replicas)
}

// Upstream is the pooler as a client of its server: each replica opens a
// pool of PoolSize for each pair, so its [Service.Demand] is
// pool size x pairs x replicas (pooler pods do not surge here: state
// Replicas as the worst case).
func (p Pooler) Upstream(name string) Service {
	return Service{Name: name, Replicas: p.Replicas, NoSurge: true, Processes: p.Pairs, PoolMax: p.PoolSize}
}
