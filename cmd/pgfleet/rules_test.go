package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// The printed rules parse and validate with Prometheus's own rule parser
// (YAML, PromQL of every expr, templates of every annotation).
func TestRulesParse(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"rules"}, {"rules", "--min-rate", "0.5", "--for", "15m"}, {"rules", "--min-rate", "-1"}} {
		r := pgfleet(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		groups, errs := rulefmt.Parse([]byte(r.stdout), false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
		if len(errs) > 0 {
			t.Fatalf("%v: the printed rules do not parse: %v\n%s", args, errs, r.stdout)
		}
		var records, alerts []string
		for _, g := range groups.Groups {
			for _, rule := range g.Rules {
				if rule.Record != "" {
					records = append(records, rule.Record)
				} else {
					alerts = append(alerts, rule.Alert)
				}
			}
		}
		if len(records) != 8 || len(alerts) != 4 {
			t.Fatalf("%v: records %v, alerts %v: want 8 and 4", args, records, alerts)
		}
		guarded := strings.Contains(r.stdout, "pgfleet:class_calls:rate5m >")
		if wantGuard := args[len(args)-1] != "-1"; guarded != wantGuard {
			t.Errorf("%v: volume guard present = %v, want %v", args, guarded, wantGuard)
		}
	}
}

func TestRulesUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rules", "--for", "-1m"}, "--for -1m0s: must be >= 0"},
		{[]string{"rules", "extra"}, "rules takes no arguments"},
		{[]string{"rules", "--min-rate", "x"}, "invalid value"},
	} {
		if r := pgfleet(t, nil, tc.args...); r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q: want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
