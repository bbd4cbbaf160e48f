package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// commands is every subcommand, in the order `pgfleet help` lists them. A new
// subcommand is a new file defining a *command and one entry here.
var commands = []*command{
	migrateCommand,
	shardCommand,
	budgetCommand,
	rulesCommand,
}

// command is one subcommand. Run gets the arguments after the subcommand's
// name; it returns a *usageError for bad invocations (exit 2) and any other
// error for failed work (exit 1).
type command struct {
	Name    string
	Summary string // one line, for `pgfleet help`
	Usage   string // the full text for `pgfleet help NAME`, starting "usage: "
	Run     func(ctx context.Context, e *env, args []string) error
}

// env is the outside world of one invocation, injected so that tests can run
// the CLI in-process.
type env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// usageError is a mistake in the command line, as opposed to a failure of
// the work. cmd names the command whose usage text to print along with it
// ("" for the overview). It is a name, not a *command, so that a command's
// Run can return one without an initialization cycle through [commands].
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd string, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// parseFlags parses a command's flags: -h and --help return flag.ErrHelp,
// for which run prints the command's usage; any other mistake is a usage
// error, prefixed with what ("migrate up") when it is not empty.
func parseFlags(fs *flag.FlagSet, args []string, cmd, what string) error {
	err := fs.Parse(args)
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return err
	case what == "":
		return usagef(cmd, "%v", err)
	}
	return usagef(cmd, "%s: %v", what, err)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and turns its error into an exit code.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.Stderr, overview())
		return 2
	}
	name, rest := args[0], args[1:]
	var err error
	var cmd *command
	switch name {
	case "help", "-h", "-help", "--help":
		err = help(e, rest)
	default:
		cmd = lookup(name)
		if cmd == nil {
			err = usagef("", "unknown command %q%s", name, suggest(name, commandNames()...))
			break
		}
		err = cmd.Run(ctx, e, rest)
	}
	var uerr *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp) && cmd != nil:
		fmt.Fprint(e.Stdout, cmd.Usage)
		return 0
	case errors.As(err, &uerr):
		fmt.Fprintf(e.Stderr, "pgfleet: %s\n\n", uerr.msg)
		if c := lookup(uerr.cmd); c != nil {
			fmt.Fprint(e.Stderr, c.Usage)
		} else {
			fmt.Fprint(e.Stderr, overview())
		}
		return 2
	default:
		fmt.Fprintf(e.Stderr, "pgfleet %s: %v\n", name, err)
		return 1
	}
}

// takeAction splits the arguments of a command that takes an action (migrate
// up, shard move, ...) into the action, one of actions, and the rest. A help
// flag in the action's place returns flag.ErrHelp, for which run prints the
// command's usage.
func takeAction(cmd string, args []string, actions ...string) (action string, rest []string, err error) {
	want := strings.Join(actions[:len(actions)-1], ", ") + " or " + actions[len(actions)-1]
	if len(args) == 0 {
		return "", nil, usagef(cmd, "%s needs an action: %s", cmd, want)
	}
	action, rest = args[0], args[1:]
	if action == "-h" || action == "-help" || action == "--help" {
		return "", nil, flag.ErrHelp
	}
	if !slices.Contains(actions, action) {
		return "", nil, usagef(cmd, "unknown %s action %q%s: want %s", cmd, action, suggest(action, actions...), want)
	}
	return action, rest, nil
}

func lookup(name string) *command {
	i := slices.IndexFunc(commands, func(c *command) bool { return c.Name == name })
	if i < 0 {
		return nil
	}
	return commands[i]
}

func help(e *env, args []string) error {
	switch len(args) {
	case 0:
		fmt.Fprint(e.Stdout, overview())
		return nil
	case 1:
		cmd := lookup(args[0])
		if cmd == nil {
			return usagef("", "no help for unknown command %q%s", args[0], suggest(args[0], commandNames()...))
		}
		fmt.Fprint(e.Stdout, cmd.Usage)
		return nil
	default:
		return usagef("", "help takes at most one command name, got %q", strings.Join(args, " "))
	}
}

func overview() string {
	var b strings.Builder
	b.WriteString("pgfleet operates a pgfleet deployment: a primary, its replicas and its shards.\n\n")
	b.WriteString("usage: pgfleet <command> [arguments]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", c.Name, c.Summary)
	}
	b.WriteString("  help       show this, or `pgfleet help <command>` for one command\n")
	return b.String()
}

func commandNames() []string {
	names := []string{"help"}
	for _, c := range commands {
		names = append(names, c.Name)
	}
	return names
}

// suggest returns ` (did you mean "x"?)` for the closest of names within two
// edits of got, so a typo costs one glance, not a trip to the docs.
func suggest(got string, names ...string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := editDistance(got, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
