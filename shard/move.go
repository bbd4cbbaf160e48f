package shard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Defaults of [MoveSpec].
const (
	DefaultMoveBatch       = 1000
	DefaultMoveLockTimeout = 5 * time.Second
	movedCode              = "PGF01" // SQLSTATE the fence raises
)

// MoveSpec describes one bucket move.
type MoveSpec struct {
	// Bucket to move, and the shard that will own it.
	Bucket int
	To     string
	// Tables holding the bucket's rows ("events" or "schema.events"). Each
	// needs a primary key and the bucket column, and the same definition on
	// every shard.
	Tables []string
	// BucketColumn is the int column holding each row's bucket
	// ([Router.Bucket] of its key, written by the application). Default
	// "bucket".
	BucketColumn string
	// Batch is the number of rows copied per round trip, and of changes
	// caught up per pass. Default 1000.
	Batch int
	// LockTimeout bounds the two brief table locks a move takes on the
	// source (see [Move]). Default 5s.
	LockTimeout time.Duration

	hook func(step string) error // tests stop the move at a step
}

// MoveReport says what a [Move] did.
type MoveReport struct {
	Bucket     int
	From, To   string
	Copied     int   // rows copied (the last run's count)
	CaughtUp   int   // changes replayed after the copy
	Deleted    int   // rows removed from the source after the flip
	MapVersion int64 // the version that gives the bucket to To
	Already    bool  // the bucket was already on To: nothing to do
}

// IsBucketMoved reports whether err is the fence of a bucket move: the write
// went to a shard that no longer owns the row's bucket, or the bucket it
// declared ([Router.Exec], [Router.Tx]), or is handing it over. Reload the
// map ([Router.Reload]) and retry.
func IsBucketMoved(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == movedCode
}

// shardSchema is installed on both shards of a move (the target may be a
// source later). The row trigger function logs the primary key of every row
// written in a moving bucket, and refuses writes of rows once the bucket is
// fenced; the guard function refuses a declared statement of a fenced bucket
// (see guardTriggerSQL). Both read pgfleet_shard_moving with a fresh snapshot
// per statement (READ COMMITTED), which is why moves require writers in READ
// COMMITTED (Postgres' and pgx's default).
const shardSchema = `
CREATE TABLE IF NOT EXISTS pgfleet_shard_moving (
	bucket int PRIMARY KEY,
	fenced boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS pgfleet_shard_changes (
	seq    bigserial PRIMARY KEY,
	tbl    oid NOT NULL,
	bucket int NOT NULL,
	pk     jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS pgfleet_shard_changes_bucket ON pgfleet_shard_changes (tbl, bucket, seq);
CREATE OR REPLACE FUNCTION pgfleet_shard_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	r jsonb;
	b int;
	f boolean;
	pk jsonb;
BEGIN
	IF current_setting('pgfleet.shard_mover', true) = 'on' THEN
		RETURN NULL; -- the mover's own cleanup
	END IF;
	FOREACH r IN ARRAY ARRAY[CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END] LOOP
		CONTINUE WHEN r IS NULL;
		b := (r ->> TG_ARGV[0])::int;
		SELECT m.fenced INTO f FROM pgfleet_shard_moving m WHERE m.bucket = b;
		CONTINUE WHEN NOT FOUND;
		IF f THEN
			RAISE EXCEPTION 'pgfleet: bucket % of table % has moved to another shard', b, TG_TABLE_NAME
				USING ERRCODE = 'PGF01', HINT = 'reload the shard map (Router.Reload) and retry';
		END IF;
		pk := '{}';
		FOR i IN 1 .. TG_NARGS - 1 LOOP
			pk := pk || jsonb_build_object(TG_ARGV[i], r -> TG_ARGV[i]);
		END LOOP;
		INSERT INTO pgfleet_shard_changes (tbl, bucket, pk) VALUES (TG_RELID, b, pk);
	END LOOP;
	RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION pgfleet_shard_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	b int := current_setting('` + bucketSetting + `')::int;
BEGIN
	IF EXISTS (SELECT FROM pgfleet_shard_moving m WHERE m.bucket = b AND m.fenced) THEN
		RAISE EXCEPTION 'pgfleet: bucket % of table % has moved to another shard (declared write)', b, TG_TABLE_NAME
			USING ERRCODE = 'PGF01', HINT = 'reload the shard map (Router.Reload) and retry';
	END IF;
	RETURN NULL;
END $$;`

// guardTriggerSQL puts the statement-level half of the fence on a table
// (ident, quoted): it fires once per statement, before any row is touched
// and whether or not a row matches, for declared writes only (the WHEN
// clause costs undeclared statements one setting lookup, not a function
// call). current_setting(..., true) is NULL in a session that never
// declared and empty after a declaring transaction ended. Like the row
// trigger's, its lookup runs with a fresh READ COMMITTED snapshot taken
// after the statement's table lock was granted.
func guardTriggerSQL(ident string) string {
	return `CREATE OR REPLACE TRIGGER pgfleet_shard_guard BEFORE INSERT OR UPDATE OR DELETE ON ` + ident +
		` FOR EACH STATEMENT WHEN (current_setting('` + bucketSetting + `', true) <> '') EXECUTE FUNCTION pgfleet_shard_guard()`
}

// table is one sharded table as the source describes it.
type table struct {
	name    string // as given
	ident   string // quoted
	cols    []string
	pk      []string
	colList string // quoted, comma-separated
	pkList  string
	update  string // col = EXCLUDED.col, ...
}

// Move moves one bucket's rows to spec.To and gives it the bucket in the
// catalog's map. Every step is idempotent and the state lives in the
// databases, so a run that dies at any point is finished by running Move
// again with the same spec; nothing is lost or duplicated:
//
//  1. Record the move in the catalog (pgfleet_shard_moves).
//  2. On the source: install the change-tracking row trigger and the
//     statement-level guard on each table and mark the bucket moving,
//     under a brief SHARE ROW EXCLUSIVE lock so that no write in flight
//     escapes the log. Writes continue.
//  3. Empty the bucket on the target, then copy its rows in primary-key
//     order (keyset batches, upserts).
//  4. Replay logged changes (re-read each changed key on the source; upsert
//     or delete it on the target) until few are left.
//  5. Fence: under the same brief lock, mark the bucket fenced; from then on
//     the source refuses its writes ([IsBucketMoved]). Replay the rest.
//  6. Flip: save the map version that gives the bucket to the target.
//  7. Lift the target's own fence of the bucket, if an earlier move took
//     the bucket away from it (A -> B, then B -> A); delete the bucket's
//     rows and change log on the source. The source's fence stays, so a
//     process with the old map cannot write in the old place.
//
// Which writes the fence refuses. A write that reaches the source with a
// map older than the flip fails with [IsBucketMoved] (reload the map,
// retry) when it is
//   - declared: sent with [Router.Exec] or inside [Router.Tx], which tell
//     the shard the key's bucket; the guard refuses the statement whether
//     or not it matches rows, before and after step 7; or
//   - undeclared, but touches a row of the bucket: any INSERT, and an
//     UPDATE or DELETE before step 7 (the row trigger).
//
// An undeclared UPDATE or DELETE (router.For(k).Exec) sent with a stale map
// after step 7 matches no row on the source and succeeds with 0 rows
// affected: the fence cannot see it, and the write is lost. Send writes of
// sharded rows through Router.Exec or Router.Tx. A shard that never was a
// source has no triggers, and needs none: no map ever sent the bucket's
// writes there before it owned the bucket. A fence lives in the shard's
// pgfleet_shard_moving table; a move back to a shard lifts it only after the
// flip, so that a process whose map predates the first move cannot write
// the copy the mover is building there.
//
// A run killed after step 5 leaves the bucket's writes refused (on the
// source, and on the target of a move back) until Move is run again.
// Reads of the bucket see the source until the flip and the target after
// it; other buckets are untouched except for the two short locks. Writers
// must use READ COMMITTED transactions (Router.Tx does): each statement
// then sees a fence that was committed before its table lock was granted.
// The triggers stay on the source's tables (they are the fence): each row
// written there costs one primary-key lookup in pgfleet_shard_moving, and
// each declared statement one more. catalog holds the map; shards maps
// every shard name of the map to its database.
func Move(ctx context.Context, catalog DB, shards map[string]DB, spec MoveSpec) (*MoveReport, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := EnsureCatalog(ctx, catalog); err != nil {
		return nil, err
	}
	m, err := LoadMap(ctx, catalog)
	if err != nil {
		return nil, err
	}
	if spec.Bucket < 0 || spec.Bucket >= m.Buckets {
		return nil, fmt.Errorf("shard: move: bucket %d out of range 0..%d", spec.Bucket, m.Buckets-1)
	}
	for _, s := range m.Shards {
		if shards[s] == nil {
			return nil, fmt.Errorf("shard: move: no database given for shard %q of map version %d", s, m.Version)
		}
	}
	if shards[spec.To] == nil {
		return nil, fmt.Errorf("shard: move: target %q is not a shard of map version %d %q: add it to the map first", spec.To, m.Version, m.Shards)
	}
	rep := &MoveReport{Bucket: spec.Bucket, To: spec.To, MapVersion: m.Version}

	var recFrom, recTo, recState string
	err = catalog.QueryRow(ctx, `SELECT from_shard, to_shard, state FROM pgfleet_shard_moves WHERE bucket = $1`, spec.Bucket).Scan(&recFrom, &recTo, &recState)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("shard: move: read the move record: %w", err)
	}
	unfinished := err == nil && recState != "done"

	if owner := m.Owner(spec.Bucket); owner == spec.To {
		if !unfinished || recTo != spec.To {
			rep.Already, rep.From = true, owner
			return rep, nil
		}
		rep.From = recFrom // flipped by an earlier run that died before cleaning up
		return rep, finish(ctx, catalog, shards[recFrom], shards[spec.To], spec, rep)
	} else {
		rep.From = owner
	}
	if unfinished && (recFrom != rep.From || recTo != spec.To) {
		return nil, fmt.Errorf("shard: move: bucket %d has an unfinished move %s -> %s: run that one again to finish it first", spec.Bucket, recFrom, recTo)
	}
	if _, err := catalog.Exec(ctx, `INSERT INTO pgfleet_shard_moves (bucket, from_shard, to_shard, state) VALUES ($1, $2, $3, 'copying')
		ON CONFLICT (bucket) DO UPDATE SET from_shard = $2, to_shard = $3, state = 'copying', updated_at = now()`, spec.Bucket, rep.From, spec.To); err != nil {
		return nil, fmt.Errorf("shard: move: record the move: %w", err)
	}
	src, dst := shards[rep.From], shards[spec.To]
	tables, err := describe(ctx, src, spec)
	if err != nil {
		return nil, err
	}
	if err := prepare(ctx, src, dst, tables, spec); err != nil {
		return nil, err
	}
	if err := spec.step("prepared"); err != nil {
		return nil, err
	}
	for _, t := range tables {
		n, err := copyBucket(ctx, src, dst, t, spec)
		rep.Copied += n
		if err != nil {
			return nil, err
		}
	}
	if err := spec.step("copied"); err != nil {
		return nil, err
	}
	for pass := 0; pass < 10; pass++ { // catch up while writes go on
		n, err := catchUp(ctx, src, dst, tables, spec)
		rep.CaughtUp += n
		if err != nil {
			return nil, err
		}
		if n < spec.Batch {
			break
		}
	}
	if err := setMoving(ctx, src, tables, spec, true); err != nil {
		return nil, err
	}
	if err := spec.step("fenced"); err != nil {
		return nil, err
	}
	for { // the source takes no more writes of the bucket: drain the log
		n, err := catchUp(ctx, src, dst, tables, spec)
		rep.CaughtUp += n
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
	}
	next, err := m.WithBucket(spec.Bucket, spec.To)
	if err != nil {
		return nil, err
	}
	if err := SaveMap(ctx, catalog, next); err != nil {
		return nil, err
	}
	rep.MapVersion = next.Version
	if err := spec.step("flipped"); err != nil {
		return nil, err
	}
	return rep, finish(ctx, catalog, src, dst, spec, rep)
}

func (s MoveSpec) withDefaults() (MoveSpec, error) {
	if s.BucketColumn == "" {
		s.BucketColumn = "bucket"
	}
	if s.Batch == 0 {
		s.Batch = DefaultMoveBatch
	}
	if s.LockTimeout == 0 {
		s.LockTimeout = DefaultMoveLockTimeout
	}
	switch {
	case len(s.Tables) == 0:
		return s, errors.New("shard: move: no Tables: name every table that holds the bucket's rows")
	case s.To == "":
		return s, errors.New("shard: move: no target shard (To)")
	case s.Batch < 0 || s.LockTimeout < 0:
		return s, errors.New("shard: move: Batch and LockTimeout must be >= 0 (0 for their defaults)")
	}
	return s, nil
}

func (s MoveSpec) step(name string) error {
	if s.hook != nil {
		return s.hook(name)
	}
	return nil
}

// ident quotes "name" or "schema.name".
func ident(name string) string { return pgx.Identifier(strings.Split(name, ".")).Sanitize() }

func quoteAll(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = pgx.Identifier{c}.Sanitize()
	}
	return out
}

// describe reads each table's columns and primary key on the source.
func describe(ctx context.Context, db DB, spec MoveSpec) ([]*table, error) {
	var out []*table
	for _, name := range spec.Tables {
		t := &table{name: name, ident: ident(name)}
		rows, err := db.Query(ctx, `SELECT a.attname, coalesce(a.attnum = ANY(i.indkey), false)
			FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
			WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
			ORDER BY a.attnum`, t.ident)
		if err != nil {
			return nil, fmt.Errorf("shard: move: table %s: %w", name, err)
		}
		for rows.Next() {
			var col string
			var isPK bool
			if err := rows.Scan(&col, &isPK); err != nil {
				return nil, err
			}
			t.cols = append(t.cols, col)
			if isPK {
				t.pk = append(t.pk, col)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("shard: move: table %s: %w", name, err)
		}
		switch {
		case len(t.pk) == 0:
			return nil, fmt.Errorf("shard: move: table %s has no primary key: a move matches rows by it", name)
		case !containsStr(t.cols, spec.BucketColumn):
			return nil, fmt.Errorf("shard: move: table %s has no column %q: store each row's bucket in it (or set BucketColumn)", name, spec.BucketColumn)
		}
		t.colList = strings.Join(quoteAll(t.cols), ", ")
		t.pkList = strings.Join(quoteAll(t.pk), ", ")
		var sets []string
		for _, c := range quoteAll(t.cols) {
			sets = append(sets, c+" = EXCLUDED."+c)
		}
		t.update = strings.Join(sets, ", ")
		out = append(out, t)
	}
	return out, nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// prepare installs tracking and the guard on the source and marks the
// bucket moving there, and empties the bucket on the target: until the flip
// the target's copy is only ever this move's. A fence of the bucket on the
// target (left by an earlier move away from it) stays until the flip
// ([finish] lifts it): a process whose map predates that earlier move must
// not write the target's copy while the mover builds it. The mover's own
// writes on the target pass the fence ([asMover]).
func prepare(ctx context.Context, src, dst DB, tables []*table, spec MoveSpec) error {
	for _, db := range []DB{src, dst} {
		if _, err := db.Exec(ctx, shardSchema); err != nil {
			return fmt.Errorf("shard: move: install tracking: %w", err)
		}
	}
	for _, t := range tables {
		args := append([]string{spec.BucketColumn}, t.pk...)
		lits := make([]string, len(args))
		for i, a := range args {
			lits[i] = "'" + strings.ReplaceAll(a, "'", "''") + "'"
		}
		if _, err := src.Exec(ctx, `CREATE OR REPLACE TRIGGER pgfleet_shard_track AFTER INSERT OR UPDATE OR DELETE ON `+t.ident+
			` FOR EACH ROW EXECUTE FUNCTION pgfleet_shard_track(`+strings.Join(lits, ", ")+`)`); err != nil {
			return fmt.Errorf("shard: move: trigger on %s: %w", t.name, err)
		}
		if _, err := src.Exec(ctx, guardTriggerSQL(t.ident)); err != nil {
			return fmt.Errorf("shard: move: guard trigger on %s: %w", t.name, err)
		}
	}
	if err := setMoving(ctx, src, tables, spec, false); err != nil {
		return err
	}
	for _, t := range tables {
		_, err := asMover(ctx, dst, `DELETE FROM `+t.ident+` WHERE `+pgx.Identifier{spec.BucketColumn}.Sanitize()+` = $1`, spec.Bucket)
		if err != nil {
			return fmt.Errorf("shard: move: empty bucket %d of %s on the target: %w", spec.Bucket, t.name, err)
		}
	}
	return nil
}

// setMoving marks the bucket moving (or fenced) on the source, holding a
// SHARE ROW EXCLUSIVE lock on the tables while it does: the lock waits for
// every transaction that has written them and not yet committed, so each
// write is either done before the mark (and copied or logged) or sees it.
// A fence once set stays set.
func setMoving(ctx context.Context, src DB, tables []*table, spec MoveSpec, fenced bool) error {
	tx, err := src.Begin(ctx)
	if err != nil {
		return fmt.Errorf("shard: move: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	idents := make([]string, len(tables))
	for i, t := range tables {
		idents[i] = t.ident
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", spec.LockTimeout.Milliseconds())); err != nil {
		return fmt.Errorf("shard: move: %w", err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(idents, ", ")+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("shard: move: lock %s on the source (LockTimeout %v): %w", strings.Join(spec.Tables, ", "), spec.LockTimeout, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO pgfleet_shard_moving (bucket, fenced) VALUES ($1, $2)
		ON CONFLICT (bucket) DO UPDATE SET fenced = pgfleet_shard_moving.fenced OR $2`, spec.Bucket, fenced); err != nil {
		return fmt.Errorf("shard: move: mark bucket %d: %w", spec.Bucket, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("shard: move: %w", err)
	}
	return nil
}

// copyBucket copies the bucket's rows of t, in primary-key order, in
// batches of spec.Batch, each as one JSON document upserted on the target.
func copyBucket(ctx context.Context, src, dst DB, t *table, spec MoveSpec) (int, error) {
	bcol := pgx.Identifier{spec.BucketColumn}.Sanitize()
	pkT := "(" + prefixed("t.", t.pk) + ")"
	var after []byte // the last primary key copied, as a JSON object
	total := 0
	for {
		q := `SELECT coalesce(jsonb_agg(r ORDER BY n), '[]'), (array_agg(jsonb_build_object(` + pkObject(t.pk, "r") + `) ORDER BY n DESC))[1]
			FROM (SELECT to_jsonb(t) r, row_number() OVER (ORDER BY ` + prefixed("t.", t.pk) + `) n FROM ` + t.ident + ` t
			WHERE t.` + bcol + ` = $1`
		args := []any{spec.Bucket, spec.Batch}
		if after != nil {
			q += ` AND ` + pkT + ` > (SELECT ` + prefixed("k.", t.pk) + ` FROM jsonb_populate_record(NULL::` + t.ident + `, $3) k)`
			args = append(args, after)
		}
		q += ` ORDER BY ` + prefixed("t.", t.pk) + ` LIMIT $2) s`
		var batch, last []byte
		if err := src.QueryRow(ctx, q, args...).Scan(&batch, &last); err != nil {
			return total, fmt.Errorf("shard: move: read bucket %d of %s: %w", spec.Bucket, t.name, err)
		}
		if last == nil {
			return total, nil
		}
		n, err := asMover(ctx, dst, `INSERT INTO `+t.ident+` (`+t.colList+`) SELECT `+t.colList+` FROM jsonb_populate_recordset(NULL::`+t.ident+`, $1)
			ON CONFLICT (`+t.pkList+`) DO UPDATE SET `+t.update, batch)
		if err != nil {
			return total, fmt.Errorf("shard: move: write bucket %d of %s: %w", spec.Bucket, t.name, err)
		}
		total += n
		after = last
		if err := spec.step("copied-batch"); err != nil {
			return total, err
		}
	}
}

// catchUp replays up to spec.Batch logged changes per table: each changed
// key is read again on the source and upserted, or deleted, on the target;
// then its log rows are deleted. Deleting (rather than remembering a
// sequence number) keeps a change whose transaction commits late from being
// skipped. It returns the number of log rows consumed.
func catchUp(ctx context.Context, src, dst DB, tables []*table, spec MoveSpec) (int, error) {
	total := 0
	for _, t := range tables {
		rows, err := src.Query(ctx, `SELECT seq, pk FROM pgfleet_shard_changes WHERE tbl = $1::text::regclass AND bucket = $2 ORDER BY seq LIMIT $3`,
			t.ident, spec.Bucket, spec.Batch)
		if err != nil {
			return total, fmt.Errorf("shard: move: read the change log: %w", err)
		}
		var seqs []int64
		var keys [][]byte
		seen := map[string]bool{}
		for rows.Next() {
			var seq int64
			var pk []byte
			if err := rows.Scan(&seq, &pk); err != nil {
				return total, err
			}
			seqs = append(seqs, seq)
			if !seen[string(pk)] {
				seen[string(pk)] = true
				keys = append(keys, pk)
			}
		}
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("shard: move: read the change log: %w", err)
		}
		match := `(` + prefixed("t.", t.pk) + `) = (` + prefixed("k.", t.pk) + `)`
		err = moverTx(ctx, dst, func(tx pgx.Tx) error { // one target transaction per batch
			for _, pk := range keys {
				var row []byte
				err := src.QueryRow(ctx, `SELECT to_jsonb(t) FROM `+t.ident+` t, jsonb_populate_record(NULL::`+t.ident+`, $1) k WHERE `+match, pk).Scan(&row)
				switch {
				case errors.Is(err, pgx.ErrNoRows):
					_, err = tx.Exec(ctx, `DELETE FROM `+t.ident+` t USING jsonb_populate_record(NULL::`+t.ident+`, $1) k WHERE `+match, pk)
				case err == nil:
					_, err = tx.Exec(ctx, `INSERT INTO `+t.ident+` (`+t.colList+`) SELECT `+t.colList+` FROM jsonb_populate_record(NULL::`+t.ident+`, $1)
						ON CONFLICT (`+t.pkList+`) DO UPDATE SET `+t.update, row)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("shard: move: replay a change of %s: %w", t.name, err)
		}
		if len(seqs) > 0 {
			if _, err := src.Exec(ctx, `DELETE FROM pgfleet_shard_changes WHERE seq = ANY($1)`, seqs); err != nil {
				return total, fmt.Errorf("shard: move: trim the change log: %w", err)
			}
		}
		total += len(seqs)
	}
	return total, nil
}

// finish runs after the flip: it lifts the bucket's fence on the target
// (left there by an earlier move away from it: the target owns the bucket
// now), deletes the bucket's rows and change log on the source (whose fence
// stays) and marks the move done.
func finish(ctx context.Context, catalog, src, dst DB, spec MoveSpec, rep *MoveReport) error {
	if _, err := catalog.Exec(ctx, `UPDATE pgfleet_shard_moves SET state = 'flipped', updated_at = now() WHERE bucket = $1`, spec.Bucket); err != nil {
		return fmt.Errorf("shard: move: %w", err)
	}
	if _, err := dst.Exec(ctx, `DELETE FROM pgfleet_shard_moving WHERE bucket = $1`, spec.Bucket); err != nil {
		return fmt.Errorf("shard: move: lift the target's old fence of bucket %d: %w", spec.Bucket, err)
	}
	bcol := pgx.Identifier{spec.BucketColumn}.Sanitize()
	for _, name := range spec.Tables {
		for {
			n, err := asMover(ctx, src, `DELETE FROM `+ident(name)+` WHERE ctid = ANY(ARRAY(SELECT ctid FROM `+ident(name)+` WHERE `+bcol+` = $1 LIMIT $2))`, spec.Bucket, spec.Batch)
			if err != nil {
				return fmt.Errorf("shard: move: delete bucket %d of %s on the source: %w", spec.Bucket, name, err)
			}
			rep.Deleted += n
			if n == 0 {
				break
			}
		}
	}
	if _, err := src.Exec(ctx, `DELETE FROM pgfleet_shard_changes WHERE bucket = $1`, spec.Bucket); err != nil {
		return fmt.Errorf("shard: move: %w", err)
	}
	if err := spec.step("cleaned"); err != nil {
		return err
	}
	if _, err := catalog.Exec(ctx, `UPDATE pgfleet_shard_moves SET state = 'done', updated_at = now() WHERE bucket = $1`, spec.Bucket); err != nil {
		return fmt.Errorf("shard: move: %w", err)
	}
	return nil
}

// asMover runs one write of the mover past the fence (the cleanup of the
// source, the copy into a target that still holds an old fence of the
// bucket): the row trigger lets the mover's own transactions through, and
// logs none of their changes.
func asMover(ctx context.Context, db DB, sql string, args ...any) (n int, err error) {
	err = moverTx(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}

// moverTx runs fn in a transaction of the mover (see asMover).
func moverTx(ctx context.Context, db DB, fn func(pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SET LOCAL pgfleet.shard_mover = 'on'`); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// prefixed quotes cols and prefixes each with p ("t.").
func prefixed(p string, cols []string) string {
	q := quoteAll(cols)
	for i := range q {
		q[i] = p + q[i]
	}
	return strings.Join(q, ", ")
}

// pkObject builds jsonb_build_object arguments for cols of the jsonb r.
func pkObject(cols []string, r string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		lit := "'" + strings.ReplaceAll(c, "'", "''") + "'"
		parts[i] = lit + ", " + r + " -> " + lit
	}
	return strings.Join(parts, ", ")
}
