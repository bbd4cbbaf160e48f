package budgetcheck

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// SchemaVersion names the JSON schema of [Report]; it changes only when a
// field changes meaning or disappears.
const SchemaVersion = "pgfleet.dev/budgetcheck/v1"

// Report is the outcome of a check: every database with its clients and
// the numbers behind them, and the findings. It is what every output format
// renders; its JSON form is the stable schema documented in doc.go.
type Report struct {
	Schema    string      `json:"schema"`
	Databases []*Database `json:"databases"`
	Findings  []Finding   `json:"findings"`
}

// Run reads the inputs (files, directories, "-" for stdin) and checks them.
// The error is an *[InputError] when an input cannot be read, or when the
// inputs hold no document at all (empty files, empty standard input):
// nothing checked is not a pass. Bad documents are findings, not errors.
func Run(ctx context.Context, opts Options, stdin io.Reader, paths ...string) (*Report, error) {
	srcs, err := readSources(ctx, opts, stdin, paths...)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(srcs, func(s Source) bool { return len(splitDocuments(s)) > 0 || len(s.failed) > 0 }) {
		return nil, &InputError{Path: strings.Join(paths, " "), Reason: "no manifests in the input (only empty files, blank lines or comments): nothing was checked",
			Fix: "check that the files or the command piping into budgetcheck produce manifests"}
	}
	return Analyze(srcs, opts), nil
}

// Analyze checks manifests already read: manifests -> workload model ->
// findings. Sources of different deployment units ([Source.Unit]) are
// checked separately, each database and finding naming its unit: two
// overlays of one base deploy the same workloads twice over, not both at
// once.
func Analyze(srcs []Source, opts Options) *Report {
	var units []string
	byUnit := map[string][]Source{}
	for _, s := range srcs {
		if _, ok := byUnit[s.Unit]; !ok {
			units = append(units, s.Unit)
		}
		byUnit[s.Unit] = append(byUnit[s.Unit], s)
	}
	if len(units) <= 1 {
		return analyzeUnit(srcs, opts)
	}
	sort.Strings(units) // loose manifests ("") first, then by directory
	r := &Report{Schema: SchemaVersion, Databases: []*Database{}, Findings: []Finding{}}
	for _, u := range units {
		ur := analyzeUnit(byUnit[u], opts)
		r.Databases = append(r.Databases, ur.Databases...)
		r.Findings = append(r.Findings, ur.Findings...)
	}
	return r
}

// analyzeUnit checks the sources of one deployment unit.
func analyzeUnit(srcs []Source, opts Options) *Report {
	unit := ""
	var failed []problem
	for _, s := range srcs {
		unit = s.Unit
		for _, f := range s.failed {
			f.loc = Location{File: s.Name, Line: 1}
			failed = append(failed, f)
		}
	}
	objs, decodeErrs := decodeAll(srcs)
	objs, dupes := dedupe(objs)
	ix := newIndex(objs, opts)
	r := &Report{Schema: SchemaVersion, Databases: ix.build(), Findings: []Finding{}}
	invalid := map[string]bool{}
	for _, pr := range ix.problems {
		invalid[pr.database] = true
	}
	for _, d := range r.Databases {
		d.invalid = invalid[d.ID]
		if err := d.evaluate(); err != nil {
			ix.problems = append(ix.problems, problem{check: "PGF007", loc: d.Location, database: d.ID, message: d.ID + ": " + err.Error()})
		}
	}
	p := &pass{report: r, problems: ix.problems, decode: decodeErrs, dupes: dupes, unbuilt: failed}
	for _, c := range Checks {
		c.run(p, c)
	}
	for _, d := range r.Databases {
		d.Unit = unit
	}
	for i := range r.Findings {
		r.Findings[i].Unit = unit
	}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity.rank(), a.Severity.rank()), // most severe first
			strings.Compare(a.Check, b.Check),
			strings.Compare(a.Database, b.Database),
			strings.Compare(a.Client, b.Client),
			strings.Compare(a.Message, b.Message),
		)
	})
	return r
}

// MaxSeverity is the highest severity among the findings, "" when none.
func (r *Report) MaxSeverity() Severity {
	var max Severity
	for _, f := range r.Findings {
		if f.Severity.rank() > max.rank() {
			max = f.Severity
		}
	}
	return max
}

// evaluate computes the database's verdict with dbx/budget and the
// suggested pools when it does not fit.
func (d *Database) evaluate() error {
	if d.Assumptions == nil {
		d.Assumptions = []string{}
	}
	if d.Clients == nil {
		d.Clients = []*Client{}
	}
	srv := d.server()
	var demands []budget.Demand
	verdict := Verdict("")
	d.UnknownClients = 0
	for _, c := range d.Clients {
		switch c.Demand.State {
		case Known:
			demands = append(demands, c.demand)
		case Unbounded:
			verdict = VerdictUnbounded
			d.UnknownClients++
		default:
			d.UnknownClients++
		}
	}
	fit := budget.Check(srv, demands...)
	d.Usable, d.WorstCase, d.UsableExplanation = fit.Usable, fit.Demand, srv.Explain()
	d.Explanation = fit.Explanation
	limitKnown := d.MaxConnections.State == Known && d.SuperuserReserved.State == Known && d.Reserved.State == Known
	// The known clients' demand is a lower bound of the worst case: when it
	// alone exceeds the limit, the database is over whatever the unknown
	// clients open; only when it fits does an unknown make the verdict
	// unknown.
	limitUsable := limitKnown && d.Kind != Unresolved && srv.CheckCounts() == nil
	switch {
	case limitUsable && fit.Verdict == budget.Over:
		verdict = VerdictOver
		if d.UnknownClients > 0 {
			d.Explanation = fmt.Sprintf("at least %d, and %s unknown: the known clients alone exceed usable %d; %s", fit.Demand, plural(d.UnknownClients, "client"), fit.Usable, fit.Explanation)
		}
	case verdict == VerdictUnbounded:
		d.Explanation = fmt.Sprintf("a client's pool is unbounded; the known clients' demand alone is %d", fit.Demand)
	case !limitKnown || d.Kind == Unresolved:
		verdict, d.Explanation = VerdictUnknown, fmt.Sprintf("the database's limit is unknown; known demand %d", fit.Demand)
	case srv.CheckCounts() != nil:
		verdict, d.Explanation = VerdictUnknown, fmt.Sprintf("the database's limit cannot be computed (%v); known demand %d", srv.CheckCounts(), fit.Demand)
	case d.anyUnknown():
		verdict = VerdictUnknown
		d.Explanation = fmt.Sprintf("at least %d, and %s unknown; the known clients' %s", fit.Demand, plural(d.UnknownClients, "client"), fit.Explanation)
	case d.invalid:
		// Nothing unread may fit: a setting of this database could not be
		// used (PGF007), so the verdict cannot be ok.
		verdict = VerdictUnknown
		d.Explanation = fmt.Sprintf("a setting of this database is invalid (see PGF007); the known clients' %s", fit.Explanation)
	default:
		verdict = Verdict(fit.Verdict)
	}
	d.Verdict = verdict
	switch verdict {
	case VerdictOver, VerdictUnbounded:
		d.suggest(fit.Usable)
	case VerdictWarn:
		d.suggest(int(math.Floor(budget.WarnRatio * float64(fit.Usable))))
	}
	if d.Kind == Unresolved {
		return nil
	}
	return srv.Validate()
}

func (d *Database) anyUnknown() bool {
	for _, c := range d.Clients {
		if c.Demand.State == Unknown {
			return true
		}
	}
	return false
}

// suggest splits target connections among the clients with budget.Split,
// weighted by their current worst-case demand; a client with an unbounded
// or unknown pool weighs as the average known pool.
func (d *Database) suggest(target int) {
	var claims []budget.Claim
	var idx []*Client
	knownPools, knownSlots := 0, 0
	for _, c := range d.Clients {
		if c.Demand.State == Known {
			knownPools = budget.Add(knownPools, c.Demand.Value)
			knownSlots = budget.Add(knownSlots, c.slots())
		}
	}
	avg := 1.0
	if knownSlots > 0 {
		avg = float64(knownPools) / float64(knownSlots)
	}
	for _, c := range d.Clients {
		if c.Pods.State != Known || c.Processes.State != Known || c.Surge.State != Known {
			continue
		}
		w := float64(c.Demand.Value)
		if c.Demand.State != Known {
			w = avg * float64(c.slots())
		}
		claims = append(claims, budget.Claim{Weight: w, Slots: c.slots()})
		idx = append(idx, c)
	}
	for i, pool := range budget.Split(target, claims) {
		idx[i].SuggestedPool = pool
	}
}

// slots is the number of pools the client opens at worst, by dbx/budget's
// formula.
func (c *Client) slots() int {
	return budget.Demand{Pods: c.Pods.Value, Surge: c.Surge.Value, Processes: c.Processes.Value}.Slots()
}

// arithmetic spells out the verdict: the server's usable connections and
// each client's demand.
func (d *Database) arithmetic() string {
	parts := []string{d.Explanation}
	for _, c := range d.Clients {
		if c.Explanation != "" {
			parts = append(parts, c.Explanation)
		}
	}
	return strings.Join(parts, "; ")
}

// suggestion lists pools per process that fit, for the clients that have one.
func (d *Database) suggestion() string {
	var parts []string
	for _, c := range d.Clients {
		if c.SuggestedPool > 0 {
			parts = append(parts, fmt.Sprintf("%s pool %d (now %s)", c.ID, c.SuggestedPool, c.Pool))
		} else if c.Demand.State == Known || c.Pool.State == Unbounded {
			parts = append(parts, fmt.Sprintf("%s cannot get 1 connection per process: fewer pods or processes", c.ID))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	s := "pools per process that fit, weighted by current share: " + strings.Join(parts, ", ")
	if d.Kind == Postgres {
		s += "; or put a pooler (PgBouncer) in front, or raise max_connections"
	}
	if d.Kind == Pooler {
		s = "raise max_client_conn or the pooler's replicas, or " + s
	}
	return s
}
