package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pgfleet/pgfleet/examples/orders"
	"github.com/pgfleet/pgfleet/internal/demo/stack"
	"github.com/pgfleet/pgfleet/internal/loadtest"
)

// runDemo is `make demo`: the service under a steady open-model load, the
// report, the HTML report, budgetcheck on the same fleet's manifests.
func runDemo(ctx context.Context, out io.Writer, o options) (err error) {
	step := stepper(out)
	st, err := launch(ctx, out, step, o)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()

	res, ex, _, err := steady(ctx, out, step, st, o)
	if err != nil {
		return err
	}
	path, err := writeHTML(o.report, res, ex)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n    HTML report (latency per endpoint over time, connections over time): %s\n", path)

	step("done: stopping every server")
	return nil
}

// steady drives the stack at o.rate for o.duration and prints the report.
func steady(ctx context.Context, out io.Writer, step func(string, ...any), st *stack.Stack, o options) (*loadtest.Result, []loadtest.Extra, orders.Stats, error) {
	step("driving the service for %s at %.0f requests/s, open model (constant arrival rate, arrivals never wait for answers): list %d : profile %d : create %d, a few customers hot on purpose",
		o.duration, o.rate, weightList, weightProfile, weightCreate)
	res, err := drive(ctx, out, st, loadtest.Constant(o.rate, o.duration))
	if err != nil {
		return nil, nil, orders.Stats{}, err
	}
	ex, stats, err := extras(ctx, st, res)
	if err != nil {
		return nil, nil, stats, err
	}
	step("results: percentiles of admitted requests per endpoint against the SLO of its latency class")
	return res, ex, stats, res.WriteText(prefixed(out, "    "), ex...)
}

// runLoadtest is `make loadtest`: the steady scenario with thresholds,
// then the overload ramp. Any crossed threshold exits 1, after the reports.
func runLoadtest(ctx context.Context, out io.Writer, o options) (err error) {
	th, err := thresholds(o)
	if err != nil {
		return err
	}
	step := stepper(out)
	st, err := launch(ctx, out, step, o)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()

	res, ex, stats, err := steady(ctx, out, step, st, o)
	if err != nil {
		return err
	}
	failed := 0
	step("thresholds (the endpoints' SLOs x slack %g): %s", o.slack, th)
	for _, v := range res.Check(th) {
		fmt.Fprintf(out, "    FAIL %s\n", v)
		failed++
	}
	if stats.ServerFull > 0 {
		fmt.Fprintf(out, "    FAIL %d requests met a server refusing connections (53300): the budget must make that impossible\n", stats.ServerFull)
		failed++
	}
	if _, err := writeHTML(o.report, res, ex); err != nil {
		return err
	}

	n, err := overload(ctx, out, step, st, o)
	if err != nil {
		return err
	}
	failed += n
	if failed > 0 {
		return failedError{failed}
	}
	fmt.Fprintln(out, "\n    PASS: every threshold held, and the overload was shed without a 53300")
	return nil
}

// thresholds are --thresholds, or every endpoint's SLO with its latencies
// multiplied by --slack (error and shed rates are not loosened).
func thresholds(o options) (loadtest.Thresholds, error) {
	if o.thresholds != "" {
		th, err := loadtest.ParseThresholds(o.thresholds)
		if err != nil {
			return nil, usageError{"--thresholds: " + err.Error()}
		}
		return th, nil
	}
	return loadtest.Scenario{Endpoints: endpoints(1, o.slack)}.Thresholds(), nil
}

// The ramp's shape: 4 steps from --rate to --overload-to, --overload-step
// each, then back to --rate for 1.5 steps to show recovery. Each request
// holds its connection overloadHold longer than in the steady run.
const (
	overloadSteps = 4
	overloadHold  = 20 * time.Millisecond
)

// overload ramps the arrival rate past what the stack carries and checks
// the designed behaviour: what is admitted stays within its class's
// budget, the rest is shed fast with 503 + Retry-After, no server ever
// refuses a connection (53300), and the service recovers when the rate
// drops. It prints the knee and returns the number of failed checks.
func overload(ctx context.Context, out io.Writer, step func(string, ...any), st *stack.Stack, o options) (int, error) {
	recover := o.overloadStep * 3 / 2
	sched, err := loadtest.Ramp(o.rate, o.overloadTo, (o.overloadTo-o.rate)/(overloadSteps-1), o.overloadStep, recover)
	if err != nil {
		return 0, err
	}
	step("overload: every request now also holds its connection %s (the database got slow), and the arrival rate ramps from %.0f to %.0f requests/s (%d steps of %s), then drops back for %s",
		overloadHold, o.rate, o.overloadTo, overloadSteps, o.overloadStep, recover)
	// A new service process on the same databases: the slow database is
	// what saturates, not this machine's CPU (which also runs the load
	// generator and every server).
	if err := st.Server.Close(); err != nil {
		return 0, err
	}
	if st.Server, err = stack.Serve(ctx, st.Databases.ServiceOptions(serviceOptions(o, o.slowdown+overloadHold))); err != nil {
		return 0, err
	}
	res, err := drive(ctx, out, st, sched)
	if err != nil {
		return 0, err
	}
	stats, err := serviceStats(ctx, st.BaseURL)
	if err != nil {
		return 0, err
	}
	failed := 0
	for _, c := range orders.Classes() {
		slo := classSLO(c, o.slack)
		slo.P95, slo.MaxShedRate = 0, 0 // the knee: P99, errors, and sheds at Knee's default (1%)
		k, err := loadtest.Knee(res, c.Name, slo)
		if err != nil {
			return failed, err
		}
		fmt.Fprintf(out, "    %-8s knee %s (P99 within %s, errors < 1%%, shed < 1%%)\n", c.Name, kneeText(k), slo.P99)
		for _, s := range k.Steps {
			fmt.Fprintf(out, "             %5.0f/s  admitted P99 %-8v shed %5.1f%% (shed P99 %v)  errors %.1f%%\n",
				s.Rate, s.Stats.P99.Round(time.Millisecond), 100*s.Stats.ShedRate(), s.Stats.ShedP99.Round(time.Millisecond), 100*s.Stats.ErrorRate())
			if s.Stats.Shed > 0 && s.Stats.P99 > slo.P99 {
				fmt.Fprintf(out, "    FAIL %s at %.0f/s: admitted P99 %v while shedding, beyond the SLO %v\n", c.Name, s.Rate, s.Stats.P99.Round(time.Millisecond), slo.P99)
				failed++
			}
		}
		if r := k.Recovery; r != nil {
			fmt.Fprintf(out, "             recovery at %.0f/s: %s\n", r.Rate, recoveryText(r))
		}
	}
	all := res.All.Total
	fmt.Fprintf(out, "    overall: sent %d, ok %d, shed %d (503 + Retry-After), errors %d; servers refusing connections (53300): %d\n",
		all.Sent, all.OK, all.Shed, all.Errors(), stats.ServerFull)
	if stats.ServerFull > 0 {
		fmt.Fprintf(out, "    FAIL %d requests met a 53300 under overload\n", stats.ServerFull)
		failed++
	}
	if all.ShedNoRetryAfter > 0 {
		fmt.Fprintf(out, "    FAIL %d 503 answers without Retry-After\n", all.ShedNoRetryAfter)
		failed++
	}
	return failed, nil
}

func kneeText(k loadtest.KneeReport) string {
	if !k.Found {
		return "not reached: even the first step was outside the SLO"
	}
	return fmt.Sprintf("%.0f requests/s", k.Rate)
}

func recoveryText(r *loadtest.Recovery) string {
	if !r.Recovered {
		return "not back within the SLO by the end of the run"
	}
	return fmt.Sprintf("back within the SLO %s after the drop", r.After.Round(time.Second))
}
