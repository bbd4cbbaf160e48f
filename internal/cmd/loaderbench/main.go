// Command loaderbench prints, in one run against one Postgres, how a list
// page of 100 orders with their customers and items performs built the
// naive N+1 way, with pgfleet loaders, and as one hand-written JOIN
// (queries per page, p50 and p99 latency, ratios), and what one lone Load
// costs.
//
//	go run ./internal/cmd/loaderbench                 # starts a throwaway server (topology)
//	go run ./internal/cmd/loaderbench -dsn postgres://... -pages 1000
//	go run ./internal/cmd/loaderbench -busy              # CPU per page on a busy server
//
// -busy measures instead what the loaders cost where it matters, a busy
// server: pages arrive at a constant rate (an open model) at fractions of
// saturation (-loads), served by -scopes concurrent request scopes, with
// pgfleet loaders, dataloadgen (200µs wait) and no loader interleaved in
// turns of -slice, -rounds times; it prints process CPU time per page and
// p50/p99 latency from each page's scheduled arrival.
//
// With -dsn the database must have the demo schema and the seed's data
// (pgfleet migrate up; the seed with defaults).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	demo "github.com/pgfleet/pgfleet/internal/demo/loaderdemo"
	"github.com/pgfleet/pgfleet/loader"
)

func main() {
	dsn := flag.String("dsn", "", "database with the seeded demo schema (default: start a throwaway server)")
	pages := flag.Int("pages", 300, "pages per variant")
	lone := flag.Int("lone", 2000, "lone Loads per case")
	busy := flag.Bool("busy", false, "measure CPU per page and latency under a constant arrival rate instead")
	var opts demo.BusyOptions
	flag.IntVar(&opts.Scopes, "scopes", 64, "-busy: concurrent request scopes")
	loads := flag.String("loads", "0.25,0.5,0.9", "-busy: arrival rates, as fractions of saturation")
	flag.DurationVar(&opts.Slice, "slice", 3*time.Second, "-busy: one contender's turn at one rate")
	flag.IntVar(&opts.Rounds, "rounds", 3, "-busy: turns per contender and rate")
	flag.DurationVar(&opts.Saturate, "saturate", 3*time.Second, "-busy: closed-loop run per contender that finds its saturation")
	conns := flag.Int("conns", 4, "pool MaxConns")
	satFlag := flag.String("sat", "", "-busy: saturation as `loaders,sequential` pages/s, instead of measuring it (to compare builds at the same rates)")
	flag.Parse()
	for _, f := range strings.Split(*loads, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v > 1.5 {
			log.Fatalf("loaderbench: -loads %q: want fractions of saturation in (0, 1.5], e.g. 0.25,0.5,0.9", *loads)
		}
		opts.Loads = append(opts.Loads, v)
	}
	if opts.Scopes < 1 || opts.Scopes > 10000 || opts.Rounds < 1 || opts.Slice <= 0 || opts.Slice > time.Hour ||
		opts.Saturate <= 0 || *conns < 1 || *conns > 1000 {
		log.Fatal("loaderbench: -scopes must be in 1..10000, -rounds positive, -slice and -saturate in (0, 1h], -conns in 1..1000")
	}
	if *satFlag != "" {
		a, b, ok := strings.Cut(*satFlag, ",")
		l, err1 := strconv.ParseFloat(a, 64)
		q, err2 := strconv.ParseFloat(b, 64)
		if !ok || err1 != nil || err2 != nil || !(l > 0 && l <= 1e5) || !(q > 0 && q <= 1e5) {
			log.Fatalf("loaderbench: -sat %q: want two rates in pages/s, loaders,sequential, each in (0, 100000], e.g. 120,40", *satFlag)
		}
		opts.Saturation = []float64{l, q}
	}
	if err := run(context.Background(), *dsn, *pages, *lone, int32(*conns), *busy, opts); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, dsn string, pages, lone int, conns int32, busy bool, opts demo.BusyOptions) error {
	if dsn == "" {
		c, err := demo.Launch(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		dsn = c.Primary.DSN()
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.MaxConns = conns
	counter := &demo.QueryCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	ls, err := demo.NewLoaders(pool, loader.Config{})
	if err != nil {
		return err
	}
	if busy {
		return runBusy(ctx, pool, counter, ls, opts)
	}
	// Warm up: connections, prepared statements, caches.
	if _, err := demo.Measure(ctx, pool, counter, demo.Variants(ls), 20); err != nil {
		return err
	}
	st, err := demo.Measure(ctx, pool, counter, demo.Variants(ls), pages)
	if err != nil {
		return err
	}
	fmt.Printf("page of %d orders with customers and items, %d pages per variant, interleaved; GOMAXPROCS=%d, pool MaxConns=%d, loader.Config{} (Wait %v, MaxWait %v, MaxBatch %d)\n\n",
		demo.PageSize, pages, runtime.GOMAXPROCS(0), cfg.MaxConns, loader.DefaultWait, loader.DefaultMaxWait, loader.DefaultMaxBatch)
	demo.PrintPages(os.Stdout, st)
	lt, err := demo.LoneLoad(ctx, pool, lone)
	if err != nil {
		return err
	}
	fmt.Println()
	demo.PrintLone(os.Stdout, lt)
	return nil
}

// runBusy finds each contender's saturation (closed loop), then runs them
// all at the asked fractions of it. The loaders share one rate, the lowest
// of their saturations, so that their CPU per page compares at equal load;
// the sequential page, far slower, runs at the fractions of its own.
func runBusy(ctx context.Context, pool *pgxpool.Pool, counter *demo.QueryCounter, ls *demo.Loaders, opts demo.BusyOptions) error {
	vs := demo.BusyVariants(ls)
	sat := make([]float64, len(vs))
	if opts.Saturation != nil {
		sat[0], sat[1], sat[2] = opts.Saturation[0], opts.Saturation[0], opts.Saturation[1]
	}
	for i, v := range vs {
		if opts.Saturation != nil {
			break
		}
		if _, err := demo.Saturation(ctx, pool, v, opts.Scopes, opts.Saturate/5); err != nil { // warm-up
			return err
		}
		s, err := demo.Saturation(ctx, pool, v, opts.Scopes, opts.Saturate)
		if err != nil {
			return err
		}
		sat[i] = s
	}
	loaders := min(sat[0], sat[1])
	fmt.Printf("busy server: %d concurrent scopes, open-model arrivals, GOMAXPROCS=%d, pool MaxConns=%d, %d turns of %v per contender and rate, interleaved\n",
		opts.Scopes, runtime.GOMAXPROCS(0), pool.Config().MaxConns, opts.Rounds, opts.Slice)
	if opts.Saturation != nil {
		fmt.Printf("saturation given (-sat): ")
	} else {
		fmt.Printf("saturation (closed loop, %v): ", opts.Saturate)
	}
	for i, v := range vs {
		fmt.Printf("%s %.0f pages/s; ", v.Name, sat[i])
	}
	fmt.Printf("the loaders run at fractions of %.0f pages/s\n\n", loaders)
	sat[0], sat[1] = loaders, loaders
	st, err := demo.Busy(ctx, pool, counter, vs, sat, opts)
	if err != nil {
		return err
	}
	demo.PrintBusy(os.Stdout, st, len(vs))
	return nil
}
