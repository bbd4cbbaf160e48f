package budgetcheck

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// hostVars name a database host when no DSN does.
var hostVars = []string{"PGHOST", "DB_HOST", "DATABASE_HOST", "POSTGRES_HOST", "POSTGRESQL_HOST"}

// annotation returns a workload annotation for one container: the
// ".<container>" form wins over the plain one.
func (w *workload) annotation(name, container string) (string, string, bool) {
	if v, ok := w.annotations[name+"."+container]; ok {
		return v, name + "." + container, true
	}
	v, ok := w.annotations[name]
	return v, name, ok
}

// addClients adds one Client per container of w that talks to Postgres.
func (ix *index) addClients(w *workload) {
	if w.annotations[AnnotationIgnore] == "true" {
		return
	}
	pods, sc := ix.scaledPods(w)
	for _, c := range w.containers() {
		vars, envNotes := ix.containerEnv(w.ns, c)
		dsnVal, d, hasDSN := findDSN(vars)
		dbAnn, _, hasDBAnn := w.annotation(AnnotationDatabase, c.Name)
		_, _, hasPoolAnn := w.annotation(AnnotationPoolMax, c.Name)
		conv := ix.convention(w, c.Name, vars, d.params)
		host, hostVal := d.host, dsnVal
		if !hasDSN {
			for _, h := range hostVars {
				if v, ok := vars[h]; ok && v.value != "" {
					host, hostVal = v.value, v
					break
				}
			}
		}
		if !hasDSN && host == "" && !hasDBAnn && !hasPoolAnn && conv == nil {
			continue // not a database client
		}
		cl := &Client{
			ID: w.key() + "/" + c.Name, Workload: w.key(), Container: c.Name, Location: w.loc,
			Pods: pods, Notes: append(append([]string{}, w.notes...), envNotes...),
		}
		var db *Database
		switch {
		case hasDBAnn:
			db, cl.Via = ix.resolveDatabase(dbAnn, w.ns)
		case host != "":
			db, cl.Via = ix.resolveHost(host, hostVal.secret, w.ns)
			from := hostVal.origin
			if hasDSN && hostVal.secret == "" {
				from += " " + d.redacted()
			}
			cl.Via = "host from " + from + " -> " + cl.Via
		default:
			db, cl.Via = ix.unresolved(), "no DSN, host variable or "+AnnotationDatabase+" annotation"
		}
		cl.Database = db.ID
		cl.Pool = ix.poolSize(w, c.Name, cl, vars, d, conv)
		cl.Processes = ix.processes(w, c, cl, vars)
		var decl declaration
		if !hasPoolAnn {
			decl = ix.pgfleet(w, cl, vars, d, db) // dbx's own sizing, from PGFLEET_*
		}
		ix.finish(cl, w, sc)
		decl.apply(ix, cl)
		ix.readLoad(w, c.Name, cl)
		ix.clients = append(ix.clients, cl)
	}
}

// findDSN returns the first Postgres connection string among the
// variables, DATABASE_URL first, then by name.
func findDSN(vars map[string]envValue) (envValue, dsn, bool) {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == "DATABASE_URL") != (names[j] == "DATABASE_URL") {
			return names[i] == "DATABASE_URL"
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		if d, ok := parseDSN(vars[n].value); ok {
			d.secret = vars[n].secret
			return vars[n], d, true
		}
	}
	return envValue{}, dsn{}, false
}

// convention picks the pool convention: the pgfleet.dev/driver annotation,
// else the first in the registry that matches the container.
func (ix *index) convention(w *workload, container string, vars map[string]envValue, params map[string]string) *Convention {
	if name, key, ok := w.annotation(AnnotationDriver, container); ok {
		if c := LookupConvention(name); c != nil {
			return c
		}
		ix.problems = append(ix.problems, problem{check: "PGF007", loc: w.loc, client: w.key() + "/" + container,
			message: fmt.Sprintf("%s: annotation %s %q names no known convention (see budgetcheck.Conventions)", w.key(), key, name)})
	}
	for _, c := range Conventions {
		if c.matches(vars, params) {
			return c
		}
	}
	return nil
}

// poolSize finds the pool max of one process: annotation, then the
// convention's variables, then DSN parameters, then its default.
func (ix *index) poolSize(w *workload, container string, cl *Client, vars map[string]envValue, d dsn, conv *Convention) Number {
	if v, key, ok := w.annotation(AnnotationPoolMax, container); ok {
		if strings.TrimSpace(v) == "unbounded" {
			return unbounded("annotation %s", key)
		}
		if n, ok := readCount(v, 1); ok {
			return known(n, "annotation %s", key)
		}
		ix.invalid(w, cl, fmt.Sprintf("annotation %s %q: want %s or \"unbounded\"", key, v, wantCount(1)))
		return unknown("annotation %s is invalid", key)
	}
	if conv == nil {
		return unknown("no pool setting found; state it with annotation %s", AnnotationPoolMax)
	}
	n, hasPool := ix.envInt(w, cl, vars, conv.PoolEnv)
	o, hasOverflow := ix.envInt(w, cl, vars, conv.OverflowEnv)
	if hasPool || hasOverflow {
		return ix.envPool(w, cl, conv, n, hasPool, o, hasOverflow)
	}
	for _, p := range conv.DSNParams {
		if v, ok := d.params[p]; ok {
			if n, ok := readCount(v, 1); ok {
				return known(n, "%s: DSN parameter %s", conv.Name, p)
			}
			ix.invalid(w, cl, fmt.Sprintf("DSN parameter %s=%s is not %s", p, quote(v, d.secret), wantCount(1)))
			return unknown("%s: DSN parameter %s is invalid", conv.Name, p)
		}
	}
	switch conv.DefaultState {
	case Known:
		if conv.DefaultOverflow > 0 {
			return known(budget.Add(conv.Default, conv.DefaultOverflow), "%s default %d + overflow %d (%s)", conv.Name, conv.Default, conv.DefaultOverflow, conv.Doc)
		}
		return known(conv.Default, "%s default (%s)", conv.Name, conv.Doc)
	case Unbounded:
		return unbounded("%s default (%s)", conv.Name, conv.Doc)
	}
	return unknown("%s without a pool size (%s); state it with annotation %s", conv.Name, conv.Doc, AnnotationPoolMax)
}

// envPool is the pool max from a convention's pool and overflow variables,
// either of which may be unset (the convention's default counts then). A
// value that removes the limit (SQLAlchemy pool_size=0, max_overflow=-1)
// makes it unbounded; one that cannot be read makes it unknown, never a
// default.
func (ix *index) envPool(w *workload, cl *Client, conv *Convention, n Number, hasPool bool, o Number, hasOverflow bool) Number {
	if !hasPool {
		n = Number{Value: conv.Default, State: conv.DefaultState, Source: fmt.Sprintf("default pool %d", conv.Default)}
	}
	overflow := "overflow " + o.Source
	if !hasOverflow {
		o, overflow = known(conv.DefaultOverflow, "default"), fmt.Sprintf("default overflow %d", conv.DefaultOverflow)
	}
	switch {
	case n.State == Known && n.Value <= 0 && conv.ZeroUnbounded:
		return unbounded("%s: %s is %d, no limit", conv.Name, n.Source, n.Value)
	case o.State == Known && o.Value < 0 && conv.NegativeOverflowUnbounded:
		return unbounded("%s: %s is %d, no limit", conv.Name, o.Source, o.Value)
	case n.State != Known || o.State != Known:
		return unknown("%s: %s + %s", conv.Name, n.Source, overflow)
	case n.Value <= 0:
		ix.invalid(w, cl, fmt.Sprintf("%s: %s is not %s", conv.Name, n.Source, wantCount(1)))
		return unknown("%s: %s is invalid", conv.Name, n.Source)
	case o.Value < 0:
		ix.invalid(w, cl, fmt.Sprintf("%s: %s is not %s", conv.Name, o.Source, wantCount(0)))
		return unknown("%s: %s is invalid", conv.Name, o.Source)
	case o.Value == 0 && !hasOverflow:
		return known(n.Value, "%s: %s", conv.Name, n.Source)
	}
	return known(budget.Add(n.Value, o.Value), "%s: %s + %s", conv.Name, n.Source, overflow)
}

// envInt reads the first of the named variables that is set, as an
// integer ([readInt]); the Number's source never holds a Secret's value. It
// reports false only when none is set: a variable that is set but whose
// value is not in the manifests, or is not an integer (a PGF007 problem),
// gives an unknown Number, so that the caller never falls back to a
// default for a setting it could not read.
func (ix *index) envInt(w *workload, cl *Client, vars map[string]envValue, names []string) (Number, bool) {
	for _, name := range names {
		v, ok := vars[name]
		if !ok {
			continue
		}
		if v.missing {
			return unknown("%s", v.origin), true
		}
		n, ok := readInt(v.value)
		if !ok {
			ix.invalid(w, cl, fmt.Sprintf("%s is not %s", v.shown(), wantInt))
			return unknown("%s is invalid", v.origin), true
		}
		src := v.origin
		if v.secret == "" {
			src = fmt.Sprintf("%s=%d", v.origin, n)
		}
		return known(n, "%s", src), true
	}
	return Number{}, false
}

// processes finds the number of pools per container: annotation, worker
// variables (gunicorn, puma, uvicorn), --workers arguments, else 1.
func (ix *index) processes(w *workload, c *corev1.Container, cl *Client, vars map[string]envValue) Number {
	if v, key, ok := w.annotation(AnnotationProcesses, c.Name); ok {
		if n, ok := readCount(v, 1); ok {
			return known(n, "annotation %s", key)
		}
		ix.invalid(w, cl, fmt.Sprintf("annotation %s %q: want %s", key, v, wantCount(1)))
		return unknown("annotation %s is invalid", key)
	}
	if n, ok := ix.envInt(w, cl, vars, []string{"WEB_CONCURRENCY", "UVICORN_WORKERS", "PUMA_WORKERS"}); ok {
		if n.State == Known && n.Value < 1 {
			ix.invalid(w, cl, fmt.Sprintf("%s is not %s", n.Source, wantCount(1)))
			return unknown("%s is invalid", n.Source)
		}
		return n
	}
	args := append(append([]string{}, c.Command...), c.Args...)
	if v, ok := vars["GUNICORN_CMD_ARGS"]; ok && v.secret == "" {
		args = append(args, strings.Fields(v.value)...)
	}
	for i, a := range args {
		val, flag := "", a
		if k, v, ok := strings.Cut(a, "="); ok {
			flag, val = k, v
		} else if i+1 < len(args) {
			val = args[i+1]
		}
		if flag == "--workers" || flag == "-w" {
			if n, ok := readCount(val, 1); ok {
				return known(n, "container %s args %s %d", c.Name, flag, n)
			}
			// A number out of range is a worker count misread; anything
			// else is another program's -w (curl -w '%{http_code}').
			if _, err := strconv.Atoi(strings.TrimSpace(val)); err == nil || errors.Is(err, strconv.ErrRange) {
				ix.invalid(w, cl, fmt.Sprintf("container %s args %s %q: want %s", c.Name, flag, val, wantCount(1)))
				return unknown("container %s args %s is invalid", c.Name, flag)
			}
		}
	}
	return known(1, noWorkerSetting)
}

// noWorkerSetting is the source of a process count nothing stated.
const noWorkerSetting = "no worker setting found"

func (ix *index) invalid(w *workload, cl *Client, msg string) {
	ix.problems = append(ix.problems, problem{check: "PGF007", loc: w.loc, client: cl.ID, database: cl.Database, message: cl.ID + ": " + msg})
}

// finish fills a client's surge and demand from dbx/budget once pods,
// processes and pool are known. The budget.Service is built here, from the
// workload and its autoscaler, for application and pooler clients alike.
func (ix *index) finish(cl *Client, w *workload, sc *scaler) {
	svc := budget.Service{Name: cl.ID, Replicas: w.pods.Value, MaxSurge: w.maxSurge, NoSurge: w.noSurge != "",
		Processes: cl.Processes.Value, PoolMax: cl.Pool.Value}
	if sc != nil {
		svc.MaxReplicas = sc.max
	}
	if cl.Pods.State != Known {
		cl.Surge = unknown("pod count unknown")
		cl.Demand = unknown("pod count unknown")
		return
	}
	dem, err := svc.Demand()
	switch {
	case err != nil:
		// A count out of range or a product that overflows: the demand
		// cannot be computed, so it is unknown, never a wrapped number.
		cl.Surge = unknown("%v", err)
		cl.Demand = unknown("%v", err)
		ix.problems = append(ix.problems, problem{check: "PGF007", loc: cl.Location, client: cl.ID, database: cl.Database, message: cl.ID + ": " + err.Error()})
		return
	case svc.NoSurge:
		cl.Surge = known(0, "%s", w.noSurge)
	case svc.MaxSurge == "":
		cl.Surge = known(dem.Surge, "maxSurge %s (default) of %d pods, rounded up", budget.DefaultMaxSurge, dem.Pods)
	default:
		cl.Surge = known(dem.Surge, "maxSurge %s of %d pods", svc.MaxSurge, dem.Pods)
	}
	switch {
	case cl.Pool.State == Unbounded:
		cl.Demand = unbounded("pool has no limit")
	case cl.Pool.State != Known || cl.Processes.State != Known || cl.Surge.State != Known:
		cl.Demand = unknown("pool, processes or surge unknown")
	default:
		cl.Demand = known(dem.Connections, "(pods + surge) x processes x pool")
		cl.Explanation = dem.Explanation
		cl.demand = dem
	}
}
