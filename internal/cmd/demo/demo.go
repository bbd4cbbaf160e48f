package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pgfleet/pgfleet/dbx/budget"
	"github.com/pgfleet/pgfleet/examples/orders"
	"github.com/pgfleet/pgfleet/internal/demo/stack"
	"github.com/pgfleet/pgfleet/internal/loadtest"
)

// launch starts the databases and the service and prints where things run
// and how each node's pool was sized.
func launch(ctx context.Context, out io.Writer, step func(string, ...any), o options) (*stack.Stack, error) {
	step("starting a primary, %d streaming replicas and %d shards (max_connections %d each); migrating; seeding",
		o.replicas, o.shards, o.maxConns)
	st, err := stack.Launch(ctx, stack.Options{
		Replicas: o.replicas, Shards: o.shards, MaxConnections: o.maxConns,
		Service: serviceOptions(o, o.slowdown),
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "    ready in %s; the orders service listens on %s\n", st.Timings, st.BaseURL)

	step("the fleet budget: every pool is sized against its server's max_connections for the whole fleet")
	r := st.Service.Primary().Report()
	fmt.Fprintf(out, "    %s\n", r.Server.Explain())
	if r.Allocation != nil {
		fmt.Fprintf(out, "    %s\n", r.Allocation.Explanation)
	}
	if r.Demand != nil {
		fmt.Fprintf(out, "    %s\n", r.Demand.Explanation)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(out, "    the same fleet as Kubernetes manifests, checked before deploy: make demo/budgetcheck (%s)\n", fleetManifests)
	fmt.Fprintln(tw, "    NODE\tROLE\tPOOL\tQUOTA HELD\tOPEN")
	for _, n := range st.Service.Stats().Nodes {
		fmt.Fprintf(tw, "    %s\t%s\t%d\t%d\t%d\n", nodeName(n), n.Role, n.MaxConns, n.QuotaHeld, n.Open)
	}
	return st, tw.Flush()
}

const demoAcquireTimeout = 10 * time.Millisecond

// fleetManifests is the demo's fleet as Kubernetes manifests: the orders
// service as launch runs it, and a reporting job beside it. budgetcheck
// computes the same demand for the orders service as dbx does at runtime
// (TestFleetManifestsAgreeWithRuntime). The demo does not run budgetcheck
// itself: linking its Helm and kustomize renderers would triple the demo's
// build on a fresh machine.
const fleetManifests = "internal/cmd/demo/demo_fleet.yaml"

// serviceOptions configure the orders service: a fleet of 2 pods (HPA
// maximum 3), the service's default pools and fleet quota.
func serviceOptions(o options, slowdown time.Duration) orders.Options {
	return orders.Options{
		Service: "orders", Pod: "orders-7d9f-demo",
		Fleet:    budget.Service{Replicas: 2, MaxReplicas: 3},
		HotCache: o.hotCache, Slowdown: slowdown,
		// A request may queue at a gate for this long before it is shed
		// (503 + Retry-After): a small part of every class's P99, so that
		// what is admitted stays within its SLO when the database is the
		// bottleneck.
		AcquireTimeout: demoAcquireTimeout,
		Logger:         slog.New(slog.DiscardHandler),
	}
}

// warmUp is a short unmeasured run before each measured one: a fresh
// service opens its connections (and takes its fleet-quota slots) one at a
// time as requests queue, and the first requests would measure that.
const warmUp = time.Second

// drive warms the service up, then runs one scenario with a progress line
// and returns what it measured.
func drive(ctx context.Context, out io.Writer, st *stack.Stack, sched loadtest.Schedule) (*loadtest.Result, error) {
	d := st.Databases
	rate := sched.Stages[0].Rate
	if _, err := loadtest.Run(ctx, scenario(st.BaseURL, d.Customers, d.Products, loadtest.Constant(rate, warmUp)), nil); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	return loadtest.Run(ctx, scenario(st.BaseURL, d.Customers, d.Products, sched), prefixed(out, "    "))
}

// extras are the report's lines that only the service knows.
func extras(ctx context.Context, st *stack.Stack, res *loadtest.Result) ([]loadtest.Extra, orders.Stats, error) {
	stats, err := serviceStats(ctx, st.BaseURL)
	if err != nil {
		return nil, stats, err
	}
	hot, err := hotKeys(ctx, st.BaseURL)
	if err != nil {
		return nil, stats, err
	}
	var ex []loadtest.Extra
	add := func(label, format string, args ...any) {
		ex = append(ex, loadtest.Extra{Label: label, Value: fmt.Sprintf(format, args...)})
	}
	for _, name := range []string{orders.ClassList, orders.ClassCreate, orders.ClassProfile} {
		e := stats.Endpoints[name]
		add("queries per request: "+name, "%.2f (%d queries for %d requests)", e.QueriesPerRequest, e.Queries, e.Requests)
	}
	var onReplicas, onPrimary int64
	for _, n := range stats.Nodes {
		switch {
		case n.Role == "replica":
			onReplicas += n.Reads
		case n.Cluster == "primary":
			onPrimary += n.Reads
		}
	}
	if total := onReplicas + onPrimary; total > 0 {
		add("replica share of reads", "%.1f%% (%d of %d list reads on replicas; fallbacks to the primary: %v)",
			100*float64(onReplicas)/float64(total), onReplicas, total, fallbacks(stats.Fallbacks))
	}
	add("shed (503 + Retry-After)", "%d; refused by a server with 53300: %d; N+1 patterns detected: %d",
		stats.Shed, stats.ServerFull, stats.NPlusOne)
	add("hot customers made by the generator", "%s", hotMade(res.Hot))
	add("hot keys the router found", "%s", hotFound(hot, res.Hot))
	if stats.HotCache != nil {
		add("hot-key cache", "%+v", *stats.HotCache)
	}
	for _, n := range stats.Nodes {
		_, inUse := res.Scrapes.Series(nodeName(n) + " in use")
		add("connections: "+nodeName(n), "pool %d (budgeted), peak in use %.0f, open now %d", n.MaxConns, peak(inUse), n.Open)
	}
	return ex, stats, nil
}

func fallbacks(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func hotMade(hot []loadtest.HotUser) string {
	var parts []string
	for _, h := range hot {
		parts = append(parts, fmt.Sprintf("%d (%d lookups)", h.ID, h.Requests))
	}
	return strings.Join(parts, ", ")
}

// hotFound lists the router's hot keys and how many of the generator's hot
// customers are among them.
func hotFound(found []hotKey, made []loadtest.HotUser) string {
	want := map[string]bool{}
	for _, h := range made {
		want[strconv.Itoa(h.ID)] = true
	}
	var parts []string
	hits := 0
	for _, k := range found {
		mark := ""
		if want[k.Key] {
			hits++
			mark = "*"
		}
		parts = append(parts, fmt.Sprintf("%s%s on %s (%.0f/s, %.0f%% of its shard)", k.Key, mark, k.Shard, k.Rate, 100*k.Share))
	}
	if len(parts) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d of the %d made hot (*): %s", hits, len(made), strings.Join(parts, "; "))
}

func peak(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		if x > m { // NaN compares false: a missing sample is skipped
			m = x
		}
	}
	return m
}

// writeHTML writes the HTML report and returns its absolute path.
func writeHTML(path string, res *loadtest.Result, ex []loadtest.Extra) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := res.WriteHTML(&buf, ex...); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	return filepath.Abs(path)
}

// prefixed indents every line written to w (the progress lines).
func prefixed(w io.Writer, prefix string) io.Writer {
	return &indenter{w: w, prefix: prefix, bol: true}
}

type indenter struct {
	w      io.Writer
	prefix string
	bol    bool
}

func (in *indenter) Write(p []byte) (int, error) {
	for _, b := range p {
		if in.bol && b != '\n' && b != '\r' {
			if _, err := io.WriteString(in.w, in.prefix); err != nil {
				return 0, err
			}
			in.bol = false
		}
		if _, err := in.w.Write([]byte{b}); err != nil {
			return 0, err
		}
		if b == '\n' || b == '\r' {
			in.bol = true
		}
	}
	return len(p), nil
}

// stepper prints numbered steps.
func stepper(w io.Writer) func(format string, args ...any) {
	n := 0
	return func(format string, args ...any) {
		n++
		fmt.Fprintf(w, "\n[%d] %s\n", n, fmt.Sprintf(format, args...))
	}
}
