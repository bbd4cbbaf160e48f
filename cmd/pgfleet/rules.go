package main

import (
	"context"
	"flag"
	"io"

	"github.com/pgfleet/pgfleet/dbx"
)

var rulesCommand = &command{
	Name:    "rules",
	Summary: "print Prometheus recording and alerting rules for per-class latency and burn rates",
	Usage:   rulesUsage,
	Run:     runRules,
}

const rulesUsage = `usage: pgfleet rules [--min-rate N] [--for DURATION] > pgfleet-rules.yaml

Prints a Prometheus rule file for the per-class series dbx exports
(Config.Classes): P95/P99 per class, an alert when a class's P99 stays above
its target, and the multi-window error-budget burn-rate alerts of the SRE
workbook (1h with 5m at 14.4x: page; 6h with 30m at 6x: ticket), and an alert
when a pool stays too small for its load (Little's law). Targets and
objectives are read from the series themselves, so one file serves every
service and class. Load it with rule_files in prometheus.yml, or wrap it in a
PrometheusRule for the Prometheus Operator.

flags:
  --min-rate N     request-volume guard: a class with fewer calls per second
                   (over 5m) never alerts (default 1; 0 for the default,
                   negative for no guard)
  --for DURATION   how long the P99 must stay above target, or a pool too
                   small, before alerting (default 10m)
`

func runRules(_ context.Context, e *env, args []string) error {
	const cmd = "rules"
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	minRate := fs.Float64("min-rate", dbx.DefaultRulesMinRate, "")
	forDur := fs.Duration("for", dbx.DefaultRulesFor, "")
	if err := parseFlags(fs, args, cmd, ""); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(cmd, "rules takes no arguments, got %q", fs.Args())
	}
	if *forDur < 0 {
		return usagef(cmd, "--for %v: must be >= 0", *forDur)
	}
	rules, err := dbx.Rules(dbx.RulesOptions{MinRate: *minRate, For: *forDur})
	if err != nil {
		return err
	}
	_, err = io.WriteString(e.Stdout, rules)
	return err
}
