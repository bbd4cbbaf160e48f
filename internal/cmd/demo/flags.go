package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"time"
)

const usageText = `usage: go run ./internal/cmd/demo [flags]

Starts a throwaway Postgres topology on this machine (a primary, streaming
replicas, shard servers, from the local server binaries), migrates and seeds
it, serves the orders example on it and drives it with an open-model load
(constant arrival rate) for --duration, then prints the report and writes
an HTML report. Everything is stopped and removed at the end.

flags:
  --duration D          steady load duration (default 30s)
  --rate R              arrivals per second (default 300)
  --report PATH         the HTML report (default $TMPDIR/pgfleet-demo/report.html)
  --replicas N          streaming replicas of the primary (default 2)
  --shards N            shard servers (default 2)
  --max-connections N   max_connections of every server (default 40)
  --hot-cache           serve hot customers' profiles from the opt-in cache
  --loadtest            fail (exit 1) when a threshold is crossed; then ramp
                        the rate past capacity (the overload scenario)
  --thresholds T        override the thresholds, k6-style:
                        "list: p95<150ms, p99<400ms; all: error_rate<1%"
  --slack F             multiply the SLO latencies by F in the thresholds
                        (default 1; CI on a shared 2-core machine uses more)
  --slowdown D          every request also holds its connection D (pg_sleep):
                        proves that the thresholds bite
  --overload-to R       the ramp's last rate (default 4 x --rate)
  --overload-step D     each ramp step's duration (default 4s)
`

// options are the command line.
type options struct {
	duration           time.Duration
	rate, overloadTo   float64
	report             string
	replicas, shards   int
	maxConns           int
	hotCache, loadtest bool
	thresholds         string
	slack              float64
	slowdown           time.Duration
	overloadStep       time.Duration
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "")
	fs.Float64Var(&o.rate, "rate", 300, "")
	fs.Float64Var(&o.overloadTo, "overload-to", 0, "")
	fs.StringVar(&o.report, "report", filepath.Join(os.TempDir(), "pgfleet-demo", "report.html"), "")
	fs.IntVar(&o.replicas, "replicas", 2, "")
	fs.IntVar(&o.shards, "shards", 2, "")
	fs.IntVar(&o.maxConns, "max-connections", 40, "")
	fs.BoolVar(&o.hotCache, "hot-cache", false, "")
	fs.BoolVar(&o.loadtest, "loadtest", false, "")
	fs.StringVar(&o.thresholds, "thresholds", "", "")
	fs.Float64Var(&o.slack, "slack", 1, "")
	fs.DurationVar(&o.slowdown, "slowdown", 0, "")
	fs.DurationVar(&o.overloadStep, "overload-step", 4*time.Second, "")
	if err := fs.Parse(args); err != nil {
		return o, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return o, usageError{"unexpected argument " + fs.Arg(0)}
	}
	if o.overloadTo == 0 {
		o.overloadTo = 4 * o.rate
	}
	switch {
	case o.replicas < 0 || o.shards < 1 || o.maxConns < 10:
		return o, usageError{"--replicas must be >= 0, --shards >= 1 and --max-connections >= 10"}
	case o.duration < time.Second || o.duration > time.Hour:
		return o, usageError{"--duration must be between 1s and 1h"}
	case !(o.rate >= 1 && o.rate <= 100000) || !(o.overloadTo > o.rate && o.overloadTo <= 100000):
		return o, usageError{"--rate must be between 1 and 100000 arrivals per second, and --overload-to above it"}
	case !(o.slack >= 1 && o.slack <= 100):
		return o, usageError{"--slack must be between 1 and 100"}
	case o.slowdown < 0 || o.slowdown > time.Minute:
		return o, usageError{"--slowdown must be between 0 and 1m"}
	case o.overloadStep < time.Second || o.overloadStep > 10*time.Minute:
		return o, usageError{"--overload-step must be between 1s and 10m"}
	}
	return o, nil
}
