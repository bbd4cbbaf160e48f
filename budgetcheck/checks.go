package budgetcheck

import (
	"fmt"
	"strings"
)

// Check is one rule of the checker. Checks are values in [Checks]; their
// IDs are stable across releases and are what SARIF rules and --fail-on
// filters refer to.
type Check struct {
	ID       string // stable, e.g. "PGF001"
	Name     string // short, kebab-case, e.g. "over-budget"
	Doc      string // what the check finds and why it matters
	Severity Severity
	run      func(p *pass, c *Check)
}

// pass is what a check sees: the report so far and the problems noticed
// while reading the manifests.
type pass struct {
	report   *Report
	problems []problem
	decode   []decodeError
	dupes    []problem // objects read more than once, see dedupe
}

func (p *pass) emit(c *Check, f Finding) {
	f.Check, f.Name, f.Severity = c.ID, c.Name, c.Severity
	p.report.Findings = append(p.report.Findings, f)
}

// Checks is the registry of checks, in ID order.
var Checks = []*Check{
	{ID: "PGF001", Name: "over-budget", Severity: Error,
		Doc: "The worst-case demand of a database's clients (max pods + rollout surge, x processes, x pool) exceeds its usable connections: at peak, clients get 'too many clients' (53300).",
		run: verdictCheck(VerdictOver, "exceeds")},
	{ID: "PGF002", Name: "near-budget", Severity: Warning,
		Doc: "The worst-case demand is above 90% of the usable connections: one more replica or a larger pool will exceed it.",
		run: verdictCheck(VerdictWarn, "is above 90% of")},
	{ID: "PGF003", Name: "unbounded-pool", Severity: Error,
		Doc: "A client's pool has no upper limit (e.g. Go database/sql without SetMaxOpenConns): its demand grows with load until the server refuses connections.",
		run: clientCheck(func(c *Client) bool { return c.Pool.State == Unbounded }, "pool is unbounded")},
	{ID: "PGF004", Name: "unknown-demand", Severity: Warning,
		Doc: "A client's pool size, processes or pod count cannot be determined from the manifests; state it with an annotation (pgfleet.dev/pool-max, pgfleet.dev/processes) or a flag (--nodes).",
		run: clientCheck(func(c *Client) bool { return c.Demand.State == Unknown }, "demand is unknown")},
	{ID: "PGF005", Name: "unknown-server", Severity: Warning,
		Doc: "A client reaches a database that the manifests do not define (a managed database, a host with no Service) or none could be identified; its limits are assumed.",
		run: runUnknownServer},
	{ID: "PGF006", Name: "assumed-setting", Severity: Info,
		Doc: "A server or pooler setting is not in the manifests and was assumed (from a flag or a default); the verdict holds only if the assumption does.",
		run: runAssumptions},
	{ID: "PGF007", Name: "invalid-setting", Severity: Error,
		Doc: "A setting the checker reads (an annotation, a pool variable, replicas, an autoscaler's bounds, maxSurge, a server parameter, a flag) has a value it cannot use: not an integer, negative, above 2147483647, or too large to compute with. The number is treated as unknown and the database's verdict cannot be ok: a setting that was not read never fits.",
		run: runProblems},
	{ID: "PGF008", Name: "invalid-manifest", Severity: Error,
		Doc: "A document cannot be decoded (invalid YAML, a field of the wrong type); it is skipped and the rest are still checked.",
		run: func(p *pass, c *Check) {
			for _, e := range p.decode {
				p.emit(c, Finding{Location: e.loc, Message: e.err})
			}
		}},
	{ID: "PGF009", Name: "duplicate-object", Severity: Warning,
		Doc: "The same object (API group, kind, namespace, name) is in the input more than once, e.g. two overlays or a file passed twice; it is counted once, as first read, instead of twice.",
		run: func(p *pass, c *Check) {
			for _, pr := range p.dupes {
				p.emit(c, Finding{Location: pr.loc, Message: pr.message, Suggestion: "pass each object once: one rendering of the chart or overlay"})
			}
		}},
	{ID: "PGF010", Name: "declaration-mismatch", Severity: Warning,
		Doc: "A container's PGFLEET_* fleet declaration, which dbx sizes its pool and guarantees quota minimums from at runtime, disagrees with the manifest: the autoscaler or the rollout can run more pods than declared, or the container runs another number of processes.",
		run: runProblems},
	{ID: "PGF013", Name: "under-capacity", Severity: Warning,
		Doc: "A workload declares its peak (annotations pgfleet.dev/rps and pgfleet.dev/db-time-per-request) and its pools cannot carry it: max pods x processes x pool is below rps x db time per request (Little's law), so at peak requests queue for a connection even if the server has room.",
		run: runUnderCapacity},
}

// LookupCheck returns the check with the given ID or name, or nil.
func LookupCheck(idOrName string) *Check {
	for _, c := range Checks {
		if strings.EqualFold(c.ID, idOrName) || c.Name == idOrName {
			return c
		}
	}
	return nil
}

func verdictCheck(v Verdict, verb string) func(*pass, *Check) {
	return func(p *pass, c *Check) {
		for _, d := range p.report.Databases {
			if d.Verdict != v {
				continue
			}
			p.emit(c, Finding{
				Database:   d.ID,
				Location:   d.Location,
				Message:    fmt.Sprintf("%s: worst-case demand %d %s usable %d", d.ID, d.WorstCase, verb, d.Usable),
				Arithmetic: d.arithmetic(),
				Suggestion: d.suggestion(),
			})
		}
	}
}

func clientCheck(match func(*Client) bool, what string) func(*pass, *Check) {
	return func(p *pass, c *Check) {
		for _, d := range p.report.Databases {
			for _, cl := range d.Clients {
				if !match(cl) {
					continue
				}
				f := Finding{Database: d.ID, Client: cl.ID, Location: cl.Location,
					Message:    fmt.Sprintf("%s: %s (pods %s, processes %s, pool %s: %s)", cl.ID, what, cl.Pods, cl.Processes, cl.Pool, cl.Pool.Source),
					Arithmetic: fmt.Sprintf("pods %s (%s); surge %s (%s); processes %s (%s); pool %s (%s)", cl.Pods, cl.Pods.Source, cl.Surge, cl.Surge.Source, cl.Processes, cl.Processes.Source, cl.Pool, cl.Pool.Source),
				}
				switch {
				case cl.SuggestedPool > 0:
					f.Suggestion = fmt.Sprintf("set a pool limit of %d per process (annotation %s states it)", cl.SuggestedPool, AnnotationPoolMax)
				case cl.Pods.State != Known && strings.Contains(cl.Pods.Source, "--nodes"):
					f.Suggestion = "state the node count with --nodes"
				case cl.Pods.State != Known:
					f.Suggestion = "fix the pod count (" + cl.Pods.Source + "); see the PGF007 finding"
				default:
					f.Suggestion = fmt.Sprintf("set a pool limit, or state it with annotation %s", AnnotationPoolMax)
				}
				p.emit(c, f)
			}
		}
	}
}

func runUnknownServer(p *pass, c *Check) {
	for _, d := range p.report.Databases {
		if d.Kind != External && d.Kind != Unresolved {
			continue
		}
		for _, cl := range d.Clients {
			msg := fmt.Sprintf("%s: database not found in the manifests (%s); max_connections %s", cl.ID, cl.Via, d.MaxConnections.Source)
			if d.Kind == Unresolved {
				msg = fmt.Sprintf("%s: no database identified (%s)", cl.ID, cl.Via)
			}
			p.emit(c, Finding{Database: d.ID, Client: cl.ID, Location: cl.Location, Message: msg,
				Suggestion: fmt.Sprintf("add the server's manifests to the input, name it with annotation %s, or state its limit with --max-connections", AnnotationDatabase)})
		}
	}
}

func runAssumptions(p *pass, c *Check) {
	for _, d := range p.report.Databases {
		for _, a := range d.Assumptions {
			p.emit(c, Finding{Database: d.ID, Location: d.Location, Message: d.ID + ": " + a})
		}
	}
}

// runProblems emits the problems the model noticed for this check.
func runProblems(p *pass, c *Check) {
	for _, pr := range p.problems {
		if pr.check == c.ID {
			p.emit(c, Finding{Database: pr.database, Client: pr.client, Location: pr.loc, Message: pr.message})
		}
	}
}
