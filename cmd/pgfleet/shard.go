package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/internal/dsn"
	"github.com/pgfleet/pgfleet/shard"
)

var shardCommand = &command{
	Name:    "shard",
	Summary: "store, show and compare shard maps; move a bucket to another shard",
	Usage:   shardUsage,
	Run:     runShard,
}

const shardUsage = `usage: pgfleet shard init|show|diff|move [flags]

The shard map (logical buckets -> shards, versioned) lives in a catalog
database, in the table pgfleet_shard_maps; every Router reads it from there.

  init --catalog DSN --map FILE
        store the JSON map in FILE as the catalog's newest version (the first,
        or one newer than the current)
  show --catalog DSN
        print the catalog's current map as JSON
  diff OLD.json NEW.json
        list the buckets whose shard differs between two map files, and only
        those: the moves that resharding from OLD to NEW takes
  move --catalog DSN --shard NAME=DSN... --bucket N --to NAME --table T...
        move one bucket's rows to shard NAME while the application keeps
        writing: copy, catch up, fence, flip the map, delete the old copy.
        If it dies or is interrupted at any point, run the same command
        again: it resumes, and nothing is lost or duplicated.

flags:
  --catalog DSN        the catalog database (default $PGFLEET_CATALOG_URL)
  --map FILE           init: the map file
  --shard NAME=DSN     move: every shard of the map; repeat it
  --bucket N           move: the bucket
  --to NAME            move: the shard that will own it
  --table T            move: a table holding the bucket's rows (with a primary
                       key and the bucket column); repeat it
  --bucket-column C    move: the column holding each row's bucket (default bucket)
  --batch N            move: rows per copy batch (default 1000)
`

// shardList collects repeated --shard NAME=DSN flags; String never shows
// the DSNs, which can hold passwords.
type shardList map[string]string

func (l shardList) String() string { return fmt.Sprintf("%d shards", len(l)) }
func (l shardList) Set(s string) error {
	name, url, ok := strings.Cut(s, "=")
	if !ok || name == "" || url == "" {
		return errors.New("want --shard NAME=DSN, e.g. --shard shard0=postgres://app@db0:5432/app")
	}
	if _, dup := l[name]; dup {
		return fmt.Errorf("shard %q is given twice", name)
	}
	l[name] = url
	return nil
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func runShard(ctx context.Context, e *env, args []string) error {
	const cmd = "shard"
	action, rest, err := takeAction(cmd, args, "init", "show", "diff", "move")
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("shard "+action, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	catalogURL := fs.String("catalog", e.Getenv("PGFLEET_CATALOG_URL"), "")
	mapFile := fs.String("map", "", "")
	shards := shardList{}
	fs.Var(shards, "shard", "")
	var tables stringList
	fs.Var(&tables, "table", "")
	bucket := fs.Int("bucket", -1, "")
	to := fs.String("to", "", "")
	bucketCol := fs.String("bucket-column", "bucket", "")
	batch := fs.Int("batch", shard.DefaultMoveBatch, "")
	if err := parseFlags(fs, rest, cmd, "shard "+action); err != nil {
		return err
	}
	if action == "diff" {
		if fs.NArg() != 2 {
			return usagef(cmd, "shard diff: want two map files, OLD.json NEW.json")
		}
		return shardDiff(e, fs.Arg(0), fs.Arg(1))
	}
	if fs.NArg() > 0 {
		return usagef(cmd, "shard %s: unexpected argument %q", action, fs.Arg(0))
	}
	if *catalogURL == "" {
		return usagef(cmd, "shard %s: no catalog: pass --catalog postgres://user@host:5432/db or set PGFLEET_CATALOG_URL", action)
	}
	switch action {
	case "init":
		if *mapFile == "" {
			return usagef(cmd, "shard init: pass --map FILE, the JSON map to store")
		}
	case "move":
		switch {
		case *bucket < 0:
			return usagef(cmd, "shard move: pass --bucket N, the bucket to move")
		case *to == "":
			return usagef(cmd, "shard move: pass --to NAME, the shard that will own the bucket")
		case len(tables) == 0:
			return usagef(cmd, "shard move: pass --table T for every table that holds the bucket's rows")
		case len(shards) == 0:
			return usagef(cmd, "shard move: pass --shard NAME=DSN for every shard of the map")
		case *batch < 1:
			return usagef(cmd, "shard move: --batch %d: want >= 1", *batch)
		}
	}

	catalog, err := openPool(ctx, *catalogURL)
	if err != nil {
		return err
	}
	defer catalog.Close()
	switch action {
	case "init":
		m, err := shard.ReadMapFile(*mapFile)
		if err != nil {
			return err
		}
		if err := shard.EnsureCatalog(ctx, catalog); err != nil {
			return err
		}
		if cur, err := shard.LoadMap(ctx, catalog); err == nil && m.Version <= cur.Version {
			return fmt.Errorf("%s has version %d, the catalog already holds version %d: give the new map version %d", *mapFile, m.Version, cur.Version, cur.Version+1)
		}
		if err := shard.SaveMap(ctx, catalog, m); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "stored map version %d (%d buckets on %d shards)\n", m.Version, m.Buckets, len(m.Shards))
		return nil
	case "show":
		m, err := shard.LoadMap(ctx, catalog)
		if err != nil {
			return err
		}
		out, _ := json.MarshalIndent(m, "", "  ")
		fmt.Fprintf(e.Stdout, "%s\n", out)
		return nil
	}
	dbs := map[string]shard.DB{}
	for name, url := range shards {
		p, err := openPool(ctx, url)
		if err != nil {
			return fmt.Errorf("shard %s: %w", name, err)
		}
		defer p.Close()
		dbs[name] = p
	}
	rep, err := shard.Move(ctx, catalog, dbs, shard.MoveSpec{Bucket: *bucket, To: *to, Tables: tables, BucketColumn: *bucketCol, Batch: *batch})
	if err != nil {
		return fmt.Errorf("%w\n  fix: the move resumes where it stopped: run the same command again", err)
	}
	if rep.Already {
		fmt.Fprintf(e.Stdout, "bucket %d is already on %s (map version %d): nothing to do\n", rep.Bucket, rep.To, rep.MapVersion)
		return nil
	}
	fmt.Fprintf(e.Stdout, "bucket %d: %s -> %s: copied %d rows, replayed %d changes, deleted %d rows from %s; map version %d\n",
		rep.Bucket, rep.From, rep.To, rep.Copied, rep.CaughtUp, rep.Deleted, rep.From, rep.MapVersion)
	return nil
}

// openPool opens a small pool: the CLI runs one thing at a time.
func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dsn.Redact(url), err)
	}
	cfg.MaxConns = 2
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dsn.Redact(url), err)
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("%s: %w", dsn.Redact(url), err)
	}
	return p, nil
}

func shardDiff(e *env, oldFile, newFile string) error {
	o, err := shard.ReadMapFile(oldFile)
	if err != nil {
		return err
	}
	n, err := shard.ReadMapFile(newFile)
	if err != nil {
		return err
	}
	moves, err := shard.Moves(o, n)
	if err != nil {
		return err
	}
	for _, m := range moves {
		fmt.Fprintf(e.Stdout, "bucket %d: %s -> %s\n", m.Bucket, m.From, m.To)
	}
	fmt.Fprintf(e.Stdout, "%d of %d buckets move\n", len(moves), o.Buckets)
	return nil
}
