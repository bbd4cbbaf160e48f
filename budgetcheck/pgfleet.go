package budgetcheck

import (
	"errors"
	"fmt"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// A container that declares its fleet with the PGFLEET_* variables runs dbx,
// which reads the same variables through budget.ParseEnv and sizes its pool
// with the same formulas. declaration mirrors dbx.Config's precedence:
//
//	pool per process = PGFLEET_SHARE of usable over the declared worst case (budget.PoolFor)
//	                 > DSN pool_max_conns > PGFLEET_POOL_MAX > budget.DefaultPoolMax (5)
//	                 then at most PGFLEET_QUOTA
//	worst case       = (pods + surge) x processes x pool, at most PGFLEET_QUOTA
//
// and compares the declaration with the manifest (PGF010): dbx sizes the
// fleet it was told about, so an HPA that may scale past the declared pods
// breaks the budget at runtime.
type declaration struct {
	budget.Declaration
	ok bool // the container declares a fleet and every variable was read
}

// pgfleet reads a container's declaration and, when there is one, sets the
// client's pool as dbx would choose it.
func (ix *index) pgfleet(w *workload, cl *Client, vars map[string]envValue, d dsn, db *Database) declaration {
	present := false
	for _, name := range budget.EnvNames {
		v, ok := vars[name]
		if !ok {
			continue
		}
		present = true
		if v.missing {
			cl.Pool = unknown("pgfleet: %s is not in the manifests", v.origin)
			return declaration{}
		}
	}
	if !present {
		return declaration{}
	}
	lookup := func(name string) (string, bool) { v, ok := vars[name]; return v.value, ok }
	decl, err := budget.ParseEnv(lookup)
	if err != nil {
		ix.invalidDeclaration(w, cl, vars)
		cl.Pool = unknown("pgfleet: the PGFLEET_* declaration is invalid")
		return declaration{}
	}
	decl.Fleet.Name = cl.ID
	if p := decl.Fleet.Processes; p > 0 && cl.Processes.State == Known && cl.Processes.Source == noWorkerSetting {
		cl.Processes = known(p, "%s", vars[budget.EnvProcesses].origin)
	}
	switch {
	case decl.Share > 0 && decl.Quota > 0:
		ix.invalid(w, cl, "PGFLEET_SHARE and PGFLEET_QUOTA are both set: dbx refuses to open; set one of them")
		cl.Pool = unknown("pgfleet: share and quota both set")
		return declaration{}
	case decl.Share > 0:
		if db.MaxConnections.State != Known {
			cl.Pool = unknown("pgfleet: PGFLEET_SHARE of a server whose max_connections is unknown")
			return declaration{Declaration: decl, ok: true}
		}
		srv := db.server()
		srv.Headroom = decl.Headroom
		a, err := budget.PoolFor(srv, decl.Fleet, decl.Share)
		if err != nil {
			ix.invalid(w, cl, "dbx would refuse to open: "+err.Error())
			cl.Pool = unknown("pgfleet: the share gives no connection")
			return declaration{}
		}
		cl.Pool = known(a.PerProcess, "pgfleet: %s", a.Explanation)
	default:
		if v, ok := d.params["pool_max_conns"]; ok {
			n, ok := readCount(v, 1)
			if !ok {
				ix.invalid(w, cl, fmt.Sprintf("DSN parameter pool_max_conns=%s is not %s", quote(v, d.secret), wantCount(1)))
				cl.Pool = unknown("pgfleet: DSN parameter pool_max_conns is invalid")
				return declaration{}
			}
			cl.Pool = known(n, "pgfleet: DSN parameter pool_max_conns")
		} else if decl.PoolMax > 0 {
			cl.Pool = known(decl.PoolMax, "pgfleet: %s", vars[budget.EnvPoolMax].origin)
		} else {
			cl.Pool = known(budget.DefaultPoolMax, "pgfleet: dbx default pool %d", budget.DefaultPoolMax)
		}
	}
	if decl.Quota > 0 && cl.Pool.Value > decl.Quota {
		cl.Pool = known(decl.Quota, "pgfleet: %s, at most PGFLEET_QUOTA %d", cl.Pool.Source, decl.Quota)
	}
	cl.Quota = decl.Quota
	return declaration{Declaration: decl, ok: true}
}

// invalidDeclaration reports each PGFLEET_* variable dbx could not read,
// showing no Secret's value. PGFLEET_POOL_MAX is the convention's pool
// variable, already reported by poolSize.
func (ix *index) invalidDeclaration(w *workload, cl *Client, vars map[string]envValue) {
	for _, name := range budget.EnvNames {
		v, ok := vars[name]
		if !ok || name == budget.EnvPoolMax {
			continue
		}
		_, err := budget.ParseEnv(func(n string) (string, bool) { return v.value, n == name })
		var be *budget.Error
		if errors.As(err, &be) {
			ix.invalid(w, cl, fmt.Sprintf("%s cannot be read by dbx: %s", v.shown(), be.Fix))
		}
	}
}

// apply caps the client's worst case at the quota (slots are exclusive: the
// fleet never holds more) and reports where the declaration and the
// manifest disagree. It runs after finish.
func (decl declaration) apply(ix *index, cl *Client) {
	if !decl.ok {
		return
	}
	if decl.Quota > 0 && cl.Demand.State == Known && cl.Demand.Value > decl.Quota {
		cl.Demand = known(decl.Quota, "at most PGFLEET_QUOTA %d (each connection holds a quota slot)", decl.Quota)
		cl.Explanation += fmt.Sprintf("; at most its quota %d", decl.Quota)
		cl.demand.Connections = decl.Quota
	}
	if cl.Pods.State != Known || cl.Surge.State != Known {
		return
	}
	actual := budget.Add(cl.Pods.Value, cl.Surge.Value)
	declared, err := decl.Fleet.WorstCasePods()
	mismatch := func(format string, args ...any) {
		ix.problems = append(ix.problems, problem{check: "PGF010", loc: cl.Location, client: cl.ID, database: cl.Database,
			message: cl.ID + ": " + fmt.Sprintf(format, args...)})
	}
	switch {
	case err != nil:
		return
	case decl.Fleet.Pods() == 0 && (decl.Share > 0 || decl.Quota > 0):
		mismatch("declares a share or quota but no pods (PGFLEET_REPLICAS or PGFLEET_MAX_REPLICAS): dbx cannot size the fleet; declare %d worst-case pods", actual)
	case decl.Fleet.Pods() > 0 && declared < actual:
		mismatch("the manifest allows %d pods at worst (%s; %s) but PGFLEET_* declares %d: dbx sizes and guarantees minimums for %d; set PGFLEET_MAX_REPLICAS to the autoscaler's maxReplicas (and PGFLEET_NO_SURGE/PGFLEET_MAX_SURGE to the rollout)",
			actual, cl.Pods.Source, cl.Surge.Source, declared, declared)
	}
	if p := decl.Fleet.Processes; p > 0 && cl.Processes.State == Known && p != cl.Processes.Value {
		mismatch("PGFLEET_PROCESSES=%d but the container runs %d processes (%s): set PGFLEET_PROCESSES=%d", p, cl.Processes.Value, cl.Processes.Source, cl.Processes.Value)
	}
}
