package dbx

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// Report is what Open learned from the live server and how the declared
// fleet compares with it.
type Report struct {
	Node              string
	Server            budget.Server // live max_connections and reserved slots, plus the configured headroom
	ServerVersion     int           // server_version_num
	Role              string
	Superuser         bool
	RoleConnLimit     int // -1: no limit
	Database          string
	DatabaseConnLimit int // -1: no limit
	Backends          int // client backends on the server now, besides Open's own probe
	ServiceBackends   int // of them, with application_name "<service>/..."

	// PerProcess is this process's pool size, derived from Allocation when
	// Config.Share is set.
	PerProcess int
	Allocation *budget.Allocation
	// Demand is the declared fleet's worst case at PerProcess; nil when
	// Config.Fleet is not declared.
	Demand *budget.Demand
	// Budget is what the service may use: usable x Share, or all of usable.
	Budget int

	// Pooler is the pooler in front of the server, declared or detected;
	// nil when there is none. Behind one the budget counts its limits.
	Pooler *PoolerReport

	// Problems are the reasons the fleet does not fit. Empty when it does.
	Problems []string
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// String is a one-paragraph summary for logs.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s; pool %d per process", r.Node, r.Server.Explain(), r.PerProcess)
	if r.Pooler != nil {
		fmt.Fprintf(&b, "; %s", r.Pooler)
	}
	if r.Demand != nil {
		fmt.Fprintf(&b, "; %s against a budget of %d", r.Demand.Explanation, r.Budget)
	}
	fmt.Fprintf(&b, "; %d client backends now, %d of this service", r.Backends, r.ServiceBackends)
	if len(r.Problems) > 0 {
		fmt.Fprintf(&b, "; problems: %s", strings.Join(r.Problems, "; "))
	}
	return b.String()
}

const serverInfoSQL = `SELECT
	current_setting('max_connections')::int,
	current_setting('superuser_reserved_connections')::int,
	coalesce(current_setting('reserved_connections', true), '0')::int,
	current_setting('server_version_num')::int,
	current_user::text, r.rolsuper, r.rolconnlimit,
	current_database()::text, d.datconnlimit,
	(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())::int,
	(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
		AND left(application_name, length($1) + 1) = $1 || '/')::int
FROM pg_roles r, pg_database d
WHERE r.rolname = current_user AND d.datname = current_database()`

// inspect reads the server's limits over one connection.
func inspect(ctx context.Context, conn *pgx.Conn, node, service string, headroom int) (*Report, error) {
	r := &Report{Node: node}
	// Simple protocol: a named statement would stay on a pooler's shared
	// server connection and break the next client that prepares it.
	err := conn.QueryRow(ctx, serverInfoSQL, pgx.QueryExecModeSimpleProtocol, service).Scan(
		&r.Server.MaxConnections, &r.Server.SuperuserReserved, &r.Server.Reserved, &r.ServerVersion,
		&r.Role, &r.Superuser, &r.RoleConnLimit, &r.Database, &r.DatabaseConnLimit,
		&r.Backends, &r.ServiceBackends)
	if err != nil {
		return nil, fmt.Errorf("dbx: read %s's connection limits: %w", node, err)
	}
	r.Server.Headroom = headroom
	return r, nil
}

// assess sizes the pool (when a share is set) and lists the problems, each
// with a fix that is possible from the current configuration.
func (r *Report) assess(cfg Config) error {
	// Behind a pooler this fleet's connections are the pooler's clients:
	// they are budgeted against its client side, and the server against
	// the pooler's own pools (assessPoolerServer).
	capacity := r.Server
	if r.Pooler != nil {
		capacity = r.Pooler.clientSide()
	}
	r.PerProcess = cfg.MaxConns
	r.Budget = capacity.Usable()
	if cfg.Share > 0 {
		fleet := cfg.Fleet
		if fleet.Name == "" {
			fleet.Name = cfg.Service
		}
		alloc, err := budget.PoolFor(capacity, fleet, cfg.Share)
		err = r.Pooler.explainAllocation(&alloc, err)
		// The report states the pool the share gives even when it gives none,
		// so that it and the error tell the same number.
		r.PerProcess = alloc.PerProcess
		if alloc.WorstCasePods > 0 {
			r.Allocation, r.Budget = &alloc, alloc.Budget
		}
		if err != nil {
			return &BudgetError{Report: r, Err: err}
		}
	}
	slots := 1 // pools the fleet opens at worst: worst-case pods x processes
	if cfg.Fleet.Pods() > 0 {
		fleet := cfg.Fleet
		fleet.Name, fleet.PoolMax = cfg.Service, r.PerProcess
		d, err := fleet.Demand()
		if err != nil {
			return &BudgetError{Report: r, Err: err}
		}
		r.Demand = &d
		slots = d.Connections / max(r.PerProcess, 1)
	}
	demand := r.PerProcess * slots
	if cfg.Quota > 0 {
		demand = min(demand, cfg.Quota) // slots are exclusive: the quota bounds the fleet
	}
	if r.Pooler != nil {
		if demand > r.Budget {
			r.problem("fleet worst case %d exceeds its budget %d (%s): %s, or raise the pooler's max_client_conn or replicas (Config.Pooler.MaxClientConn %d, Replicas %d) to take at least %d clients",
				demand, r.Budget, r.Pooler.Clients, r.lowerPool(cfg, r.Budget, slots), r.Pooler.MaxClientConn, r.Pooler.Replicas, demand)
		}
		r.assessPoolerServer()
		return nil
	}
	if demand > r.Budget {
		need := demand + r.Server.MaxConnections - r.Server.Usable() // usable >= demand
		if need < demand {
			need = math.MaxInt // a saturated demand: no server is that big
		}
		r.problem("fleet worst case %d exceeds its budget %d (%s): %s, raise max_connections to at least %d, or put a pooler (PgBouncer) in front",
			demand, r.Budget, r.Server.Explain(), r.lowerPool(cfg, r.Budget, slots), need)
	}
	if r.RoleConnLimit >= 0 && demand > r.RoleConnLimit {
		r.problem("fleet worst case %d exceeds role %q's CONNECTION LIMIT %d: %s, or raise the limit (ALTER ROLE ... CONNECTION LIMIT %d)",
			demand, r.Role, r.RoleConnLimit, r.lowerPool(cfg, r.RoleConnLimit, slots), demand)
	}
	if r.DatabaseConnLimit >= 0 && demand > r.DatabaseConnLimit {
		r.problem("fleet worst case %d exceeds database %q's CONNECTION LIMIT %d: %s, or raise the limit (ALTER DATABASE ... CONNECTION LIMIT %d)",
			demand, r.Database, r.DatabaseConnLimit, r.lowerPool(cfg, r.DatabaseConnLimit, slots), demand)
	}
	if free := r.Server.Usable() - r.Backends; r.PerProcess > free {
		r.problem("only %d usable slots are free now (%d client backends) and this process may open %d: %s, or find the clients holding them in pg_stat_activity",
			max(free, 0), r.Backends, r.PerProcess, r.lowerPool(cfg, free, 1))
	}
	return nil
}

// lowerPool says how to make slots pools fit in limit connections, naming
// the Config field that sizes the pool now: MaxConns, or Share when set.
// When not even one connection per pool fits, only fewer pods can help.
func (r *Report) lowerPool(cfg Config, limit, slots int) string {
	fit := limit / max(slots, 1)
	switch {
	case fit < 1 && cfg.Fleet.Pods() > 0:
		return "not even 1 connection per process fits: lower the fleet's worst case (Config.Fleet.MaxReplicas, the HPA's maxReplicas, or Config.Fleet.Processes)"
	case fit < 1:
		return "not even 1 connection fits"
	case cfg.Share > 0:
		return fmt.Sprintf("lower Config.Share (it gives %d per process; %d fits)", r.PerProcess, fit)
	}
	return fmt.Sprintf("lower Config.MaxConns to %d", fit)
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}
