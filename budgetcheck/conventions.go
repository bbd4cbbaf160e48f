package budgetcheck

import "github.com/pgfleet/pgfleet/dbx/budget"

// Convention is how one ecosystem sizes its connection pool: which
// environment variables or DSN parameters set it and what the default is
// when nothing does. The checker tries the conventions in [Conventions]
// order; the annotation pgfleet.dev/driver names one explicitly.
type Convention struct {
	// Name is what pgfleet.dev/driver takes, e.g. "hikaricp".
	Name string
	// Doc says where the default comes from.
	Doc string
	// Markers are environment variables whose presence identifies the
	// ecosystem even when no pool size is set.
	Markers []string
	// PoolEnv are environment variables holding the pool max of one
	// process; the first one set wins.
	PoolEnv []string
	// OverflowEnv are added to the pool (SQLAlchemy's max_overflow).
	OverflowEnv []string
	// DSNParams are connection-string parameters that set the pool max.
	DSNParams []string
	// Default is the pool max when nothing is set, with DefaultOverflow
	// added; it counts only when DefaultState is Known.
	Default, DefaultOverflow int
	// DefaultState is Known, Unknown (depends on the node, e.g. its CPUs)
	// or Unbounded (no limit unless configured).
	DefaultState State
	// ZeroUnbounded means a configured 0 or negative pool removes the limit
	// (database/sql SetMaxOpenConns(0), SQLAlchemy pool_size=0). Default
	// false: such a value is invalid (PGF007).
	ZeroUnbounded bool
	// NegativeOverflowUnbounded means a negative OverflowEnv value removes
	// the limit on overflow connections (SQLAlchemy max_overflow=-1).
	// Default false: a negative overflow is invalid (PGF007).
	NegativeOverflowUnbounded bool
}

// Conventions is the registry of pool conventions, most specific first.
var Conventions = []*Convention{
	{
		Name: "pgfleet", Doc: "pgfleet dbx: PGFLEET_SHARE of the server, else the DSN's pool_max_conns, else PGFLEET_POOL_MAX, else 5; at most PGFLEET_QUOTA (read with budget.ParseEnv, as dbx does)",
		Markers: budget.EnvNames, PoolEnv: []string{budget.EnvPoolMax},
		Default: budget.DefaultPoolMax, DefaultState: Known,
	},
	{
		Name: "hikaricp", Doc: "Spring Boot HikariCP: maximumPoolSize, default 10",
		Markers: []string{"SPRING_DATASOURCE_URL", "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE", "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE"},
		PoolEnv: []string{"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE", "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE", "HIKARI_MAXIMUM_POOL_SIZE"},
		Default: 10, DefaultState: Known,
	},
	{
		Name: "sqlalchemy", Doc: "SQLAlchemy QueuePool: pool_size 5 + max_overflow 10 per engine; pool_size 0 or max_overflow -1 means no limit",
		Markers: []string{"SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_POOL_SIZE"},
		PoolEnv: []string{"SQLALCHEMY_POOL_SIZE"}, OverflowEnv: []string{"SQLALCHEMY_MAX_OVERFLOW"},
		Default: 5, DefaultOverflow: 10, DefaultState: Known,
		ZeroUnbounded: true, NegativeOverflowUnbounded: true,
	},
	{
		Name: "django", Doc: "Django 5.1+ OPTIONS pool (psycopg_pool max_size default 4); without a pool, one connection per thread",
		Markers: []string{"DJANGO_SETTINGS_MODULE"}, PoolEnv: []string{"DJANGO_DB_POOL_MAX_SIZE"},
		Default: 4, DefaultState: Known,
	},
	{
		Name: "rails", Doc: "Rails database.yml pool = RAILS_MAX_THREADS, default 5",
		Markers: []string{"RAILS_ENV", "RAILS_MAX_THREADS"}, PoolEnv: []string{"DB_POOL", "RAILS_MAX_THREADS"},
		DSNParams: []string{"pool"}, Default: 5, DefaultState: Known,
	},
	{
		Name: "prisma", Doc: "Prisma connection_limit, default num_cpus x 2 + 1 of the node (ignored since Prisma 7)",
		Markers: []string{"PRISMA_CLIENT_ENGINE_TYPE"}, DSNParams: []string{"connection_limit"}, DefaultState: Unknown,
	},
	{
		Name: "pgx", Doc: "pgxpool pool_max_conns, default max(4, NumCPU) of the node",
		DSNParams: []string{"pool_max_conns"}, DefaultState: Unknown,
	},
	{
		Name: "npgsql", Doc: "Npgsql Maximum Pool Size, default 100",
		DSNParams: []string{"maximum pool size", "max pool size", "maxpoolsize"}, Default: 100, DefaultState: Known,
	},
	{
		Name: "node-postgres", Doc: "node-postgres Pool max, default 10",
		Markers: []string{"PG_POOL_MAX"}, PoolEnv: []string{"PG_POOL_MAX"}, Default: 10, DefaultState: Known,
	},
	{
		Name: "database/sql", Doc: "Go database/sql: unlimited unless SetMaxOpenConns",
		Markers: []string{"DB_MAX_OPEN_CONNS"}, PoolEnv: []string{"DB_MAX_OPEN_CONNS", "MAX_OPEN_CONNS"},
		DefaultState: Unbounded, ZeroUnbounded: true,
	},
	{
		Name: "generic", Doc: "a pool size variable of no particular framework",
		PoolEnv:      []string{"DB_POOL_SIZE", "DATABASE_POOL_SIZE", "DB_POOL_MAX", "PG_POOL_SIZE", "POOL_SIZE"},
		DefaultState: Unknown,
	},
}

// LookupConvention returns the convention with the given name, or nil.
func LookupConvention(name string) *Convention {
	for _, c := range Conventions {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// matches reports whether the convention applies to a container with these
// variables and DSN parameters.
func (c *Convention) matches(vars map[string]envValue, params map[string]string) bool {
	for _, lists := range [][]string{c.Markers, c.PoolEnv, c.OverflowEnv} {
		for _, m := range lists {
			if _, ok := vars[m]; ok {
				return true
			}
		}
	}
	for _, p := range c.DSNParams {
		if _, ok := params[p]; ok {
			return true
		}
	}
	return false
}
