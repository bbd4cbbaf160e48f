package budgetcheck

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// writeText renders one table per database, then the findings.
func writeText(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	for _, d := range r.Databases {
		p("%s (%s): %s\n", d.ID, d.Kind, upper(d.Verdict))
		if d.MaxConnections.State == Known {
			p("  %s\n", d.UsableExplanation)
			p("  worst case %d of usable %d (%s)\n", d.WorstCase, d.Usable, percent(d.WorstCase, d.Usable))
		} else {
			p("  max_connections unknown: %s; known demand %d\n", d.MaxConnections.Source, d.WorstCase)
		}
		p("  CLIENT\tPODS\tSURGE\tPROCS\tPOOL\tDEMAND\tFITS\n")
		for _, c := range d.Clients {
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
	p("%d databases, %d errors, %d warnings, %d notes\n", len(r.Databases), counts[Error], counts[Warning], counts[Info])
	return tw.Flush()
}
