package dbx

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// clientSide is what a fleet behind the pooler is budgeted against: the
// pooler's max_client_conn x replicas (explained in p.Clients).
func (p *PoolerReport) clientSide() budget.Server {
	bp := p.budget()
	p.Clients = bp.ExplainClients()
	return bp.ClientSide()
}

// explainAllocation rewrites a Share's allocation, or the error that
// refused it, in the pooler's terms: its clients are not max_connections,
// and the fix is not "put a pooler in front". A nil p leaves both as they
// are.
func (p *PoolerReport) explainAllocation(a *budget.Allocation, err error) error {
	if p == nil {
		return err
	}
	server := p.budget().ClientSide()
	a.Explanation = strings.Replace(a.Explanation, server.Explain(), p.Clients, 1)
	var be *budget.Error
	if !errors.As(err, &be) {
		return err
	}
	return &budget.Error{
		Reason: strings.Replace(be.Reason, server.Explain(), p.Clients, 1),
		Fix:    fmt.Sprintf("raise the pooler's max_client_conn (%d) or replicas (%d) (Config.Pooler.MaxClientConn, Replicas), lower maxReplicas, or raise the share", p.MaxClientConn, p.Replicas),
	}
}

// assessPoolerServer checks the pooler's server side: each pooler replica
// opens up to PoolSize server connections per (database, user) pair, and
// those, not this fleet's clients, are what the server and the role's and
// database's CONNECTION LIMITs see.
func (r *Report) assessPoolerServer() {
	p := r.Pooler
	bp := p.budget()
	d, err := bp.Upstream("pooler").Demand()
	if err != nil { // NoSurge: cannot fail
		r.problem("%v", err)
		return
	}
	p.Demand = &d
	p.Server = fmt.Sprintf("pooler server connections %d = pool size %d x (db,user) pairs %d x pooler replicas %d, against the server's %s",
		d.Connections, d.PoolMax, d.Processes, d.Pods, r.Server.Explain())
	if d.Connections > r.Server.Usable() {
		r.problem("the pooler may open %d server connections (pool size %d x (db,user) pairs %d x replicas %d), more than the server's usable %d: lower the pooler's default_pool_size + reserve_pool_size, its pairs or replicas (declare them in Config.Pooler), or raise max_connections",
			d.Connections, d.PoolMax, d.Processes, d.Pods, r.Server.Usable())
	}
	// One pair is this role on this database: PoolSize per pooler replica.
	perPair := budget.Pooler{PoolSize: bp.PoolSize, Pairs: 1, Replicas: bp.Replicas}
	pd, _ := perPair.Upstream("pooler").Demand()
	if r.RoleConnLimit >= 0 && pd.Connections > r.RoleConnLimit {
		r.problem("the pooler may open %d server connections as role %q (pool size %d x replicas %d), more than its CONNECTION LIMIT %d: lower default_pool_size or raise the limit", pd.Connections, r.Role, bp.PoolSize, bp.Replicas, r.RoleConnLimit)
	}
	if r.DatabaseConnLimit >= 0 && pd.Connections > r.DatabaseConnLimit {
		r.problem("the pooler may open %d server connections to database %q (pool size %d x replicas %d), more than its CONNECTION LIMIT %d: lower default_pool_size or raise the limit", pd.Connections, r.Database, bp.PoolSize, bp.Replicas, r.DatabaseConnLimit)
	}
}
