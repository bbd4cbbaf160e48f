package budgetcheck

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// legend explains the columns of the client tables once per report.
const legend = `columns: PODS = autoscaler max or replicas; SURGE = extra pods during a rollout; PROCS = pools per pod; POOL = max connections per pool; DEMAND = (PODS + SURGE) x PROCS x POOL; SUGGESTED POOL = a pool per process with which the database fits, weighted by the clients' current demand ("-": none needed, or not even 1 fits)`

// writeText renders one table per database, then the findings. Every value
// from the manifests is printed through [escape], so that a name cannot
// move the cursor, recolour the terminal or fake a line of the report.
func writeText(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// p takes only %s and %v verbs: every argument is escaped as text.
	p := func(format string, args ...any) {
		for i, a := range args {
			args[i] = escape(fmt.Sprint(a))
		}
		fmt.Fprintf(tw, format, args...)
	}
	clients := false
	for _, d := range r.Databases {
		if d.Unit != "" {
			p("[%s] ", d.Unit)
		}
		p("%s (%s): %s\n", d.ID, d.Kind, upper(d.Verdict))
		if d.MaxConnections.State == Known {
			p("  %s\n", d.UsableExplanation)
			if d.UnknownClients > 0 {
				p("  worst case at least %v of usable %v (%s), and %s unknown\n", d.WorstCase, d.Usable, percent(d.WorstCase, d.Usable), plural(d.UnknownClients, "client"))
			} else {
				p("  worst case %v of usable %v (%s)\n", d.WorstCase, d.Usable, percent(d.WorstCase, d.Usable))
			}
		} else {
			p("  max_connections unknown: %s; known demand %v\n", d.MaxConnections.Source, d.WorstCase)
		}
		p("  CLIENT\tPODS\tSURGE\tPROCS\tPOOL\tDEMAND\tSUGGESTED POOL\n")
		for _, c := range d.Clients {
			clients = true
			fits := "-"
			if c.SuggestedPool > 0 {
				fits = fmt.Sprint(c.SuggestedPool)
			}
			p("  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Pods, c.Surge, c.Processes, c.Pool, c.Demand, fits)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, c := range d.Clients {
			p("    %s: via %s; pods: %s; surge: %s; processes: %s; pool: %s\n", c.ID, c.Via, c.Pods.Source, c.Surge.Source, c.Processes.Source, c.Pool.Source)
			for _, n := range c.Notes {
				p("      note: %s\n", n)
			}
		}
		for _, a := range d.Assumptions {
			p("  assumed: %s\n", a)
		}
		p("\n")
	}
	if clients {
		p("%s\n\n", legend)
	}
	counts := map[Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
		loc := f.Location.String()
		if loc == "" {
			loc = "-"
		}
		p("%s %s %s %s: %s\n", loc, strings.ToUpper(string(f.Severity)), f.Check, f.Name, f.Message)
		if f.Arithmetic != "" {
			p("    arithmetic: %s\n", f.Arithmetic)
		}
		if f.Suggestion != "" {
			p("    suggestion: %s\n", f.Suggestion)
		}
	}
	p("%s, %s, %s, %s\n", plural(len(r.Databases), "database"), plural(counts[Error], "error"), plural(counts[Warning], "warning"), plural(counts[Info], "note"))
	return tw.Flush()
}
