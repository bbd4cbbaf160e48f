// Command loaderbench prints, in one run against one Postgres, how a list
// page of 100 orders with their customers and items performs built the
// naive N+1 way, with pgfleet loaders, and as one hand-written JOIN
// (queries per page, p50 and p99 latency, ratios), and what one lone Load
// costs.
//
//	go run ./internal/cmd/loaderbench                 # starts a throwaway server (topology)
//	go run ./internal/cmd/loaderbench -dsn postgres://... -pages 1000
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

	"github.com/jackc/pgx/v5/pgxpool"

	demo "github.com/pgfleet/pgfleet/internal/demo/loaderdemo"
	"github.com/pgfleet/pgfleet/loader"
)

func main() {
	dsn := flag.String("dsn", "", "database with the seeded demo schema (default: start a throwaway server)")
	pages := flag.Int("pages", 300, "pages per variant")
	lone := flag.Int("lone", 2000, "lone Loads per case")
	flag.Parse()
	if err := run(context.Background(), *dsn, *pages, *lone); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, dsn string, pages, lone int) error {
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
	cfg.MaxConns = 4
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
