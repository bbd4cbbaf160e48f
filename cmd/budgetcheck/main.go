// Command budgetcheck checks Kubernetes manifests for Postgres connection
// budgets: every workload's worst-case pool demand against each database's
// max_connections. See package budgetcheck.
//
//	budgetcheck deploy/                       # files and directories
//	helm template . | budgetcheck -           # standard input
//	budgetcheck --format sarif k8s/ > budget.sarif
//	budgetcheck ./deploy/overlays/prod        # built as kubectl kustomize does
//	budgetcheck ./charts/myapp --values prod.yaml --set api.replicas=6
//
// Exit codes: 0 fits, 1 findings at or above --fail-on, 2 usage error or
// unreadable input.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pgfleet/pgfleet/budgetcheck"
	"github.com/pgfleet/pgfleet/dbx/budget"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("budgetcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts       budgetcheck.Options
		format     = fs.String("format", "text", "output format: text, json, sarif or html")
		failOn     = fs.String("fail-on", "error", "exit 1 on findings at or above this severity: error, warning, info or none")
		listChecks = fs.Bool("list-checks", false, "list the checks and exit")
		reserved   int
	)
	fs.IntVar(&opts.Nodes, "nodes", 0, "nodes a DaemonSet runs on (0: unknown)")
	fs.IntVar(&opts.MaxConnections, "max-connections", 100, "max_connections assumed for a server whose manifests do not set it")
	fs.IntVar(&reserved, "superuser-reserved", 3, "superuser_reserved_connections assumed when not set")
	fs.IntVar(&opts.Headroom, "headroom", 0, "connections kept free on every server")
	fs.Int64Var(&opts.MaxFileBytes, "max-file-bytes", budgetcheck.DefaultMaxFileBytes, "largest input (file, stdin, pipe) read, in bytes")
	fs.DurationVar(&opts.ReadTimeout, "read-timeout", budgetcheck.DefaultReadTimeout, "time allowed to read an input that is not a regular file (FIFO, device, <(...))")
	fs.Func("values", "Helm values file merged over each chart's defaults (repeatable, in order)", func(v string) error {
		opts.HelmValues = append(opts.HelmValues, v)
		return nil
	})
	fs.Func("set", "Helm value override key=value, applied after --values (repeatable)", func(v string) error {
		opts.HelmSet = append(opts.HelmSet, v)
		return nil
	})
	fs.StringVar(&opts.HelmRelease, "release-name", budgetcheck.DefaultHelmRelease, "release name charts are rendered with")
	fs.StringVar(&opts.HelmNamespace, "namespace", budgetcheck.DefaultHelmNamespace, "namespace charts are rendered into")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: budgetcheck [flags] file|dir|- ...\n\nChecks Postgres connection budgets in Kubernetes manifests.\n\nflags:\n")
		fs.PrintDefaults()
	}
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *listChecks {
		for _, c := range budgetcheck.Checks {
			fmt.Fprintf(stdout, "%s %-16s %-7s %s\n", c.ID, c.Name, c.Severity, c.Doc)
		}
		return 0
	}
	if err := validate(&opts, reserved, *format, *failOn, len(paths)); err != nil {
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return 2
	}
	report, err := budgetcheck.Run(ctx, opts, stdin, paths...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := budgetcheck.Write(stdout, report, budgetcheck.Format(*format)); err != nil {
		fmt.Fprintln(stderr, "budgetcheck:", err)
		return 2
	}
	if sev, ok := budgetcheck.ParseSeverity(*failOn); ok && report.MaxSeverity().AtLeast(sev) {
		return 1
	}
	return 0
}

// parseInterspersed parses flags before and after the inputs, so that
// "budgetcheck ./charts/myapp --values prod.yaml" reads the values file
// (the flag package stops at the first non-flag); everything after "--"
// is an input.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return paths, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(paths, rest...), nil
		}
		paths = append(paths, rest[0])
		args = rest[1:]
	}
}

// validate checks the flags and names the one at fault.
func validate(opts *budgetcheck.Options, reserved int, format, failOn string, nargs int) error {
	switch {
	case nargs == 0:
		return errors.New(`budgetcheck: no input: name files or directories, or "-" for standard input`)
	case opts.MaxFileBytes < 1, opts.ReadTimeout <= 0:
		return errors.New("budgetcheck: --max-file-bytes and --read-timeout must be > 0")
	}
	// Counts above budget.MaxCount would overflow the formulas; no server or
	// fleet has that many connections or nodes.
	for _, f := range []struct {
		name   string
		v, min int
	}{{"--nodes", opts.Nodes, 0}, {"--max-connections", opts.MaxConnections, 1}, {"--superuser-reserved", reserved, 0}, {"--headroom", opts.Headroom, 0}} {
		if f.v < f.min || f.v > budget.MaxCount {
			return fmt.Errorf("budgetcheck: %s %d: want an integer between %d and %d", f.name, f.v, f.min, budget.MaxCount)
		}
	}
	okFormat := false
	var names []string
	for _, f := range budgetcheck.Formats {
		names = append(names, string(f))
		okFormat = okFormat || string(f) == format
	}
	if !okFormat {
		return fmt.Errorf("budgetcheck: --format %q: want one of %s", format, strings.Join(names, ", "))
	}
	if _, ok := budgetcheck.ParseSeverity(failOn); !ok && failOn != "none" {
		return fmt.Errorf("budgetcheck: --fail-on %q: want error, warning, info or none", failOn)
	}
	opts.SuperuserReserved = reserved
	if reserved == 0 {
		opts.SuperuserReserved = -1 // Options: negative means none
	}
	return nil
}
