// Package budgetcheck checks Kubernetes manifests for Postgres connection
// budgets before deploy: for every database, the worst-case number of
// connections its clients can open against the connections it can give.
//
// The pipeline is manifests -> workload model -> findings -> reports:
// [ReadSources] reads files, directories and stdin; [Analyze] decodes the
// documents (k8s.io/api types; unknown kinds are ignored, a bad document
// becomes a PGF008 finding), builds a [Database] per server or pooler with
// its [Client]s and every [Number] with its source, runs the [Checks] and
// returns a [Report] that [Write] renders as text, JSON, SARIF or HTML. All
// arithmetic is dbx/budget's, the same code the runtime uses.
//
//	srcs, err := budgetcheck.ReadSources(ctx, os.Stdin, "deploy/")
//	if err != nil {
//		return err // an *InputError: the CLI exits 2
//	}
//	report := budgetcheck.Analyze(srcs, budgetcheck.Options{Nodes: 12})
//	budgetcheck.Write(os.Stdout, report, budgetcheck.Text)
//	if report.MaxSeverity().AtLeast(budgetcheck.Error) { ... }
//
// # Where the numbers come from
//
// Pods: an HPA's maxReplicas (or KEDA maxReplicaCount) when one targets the
// workload, else spec.replicas (Job parallelism; CronJob runs by
// concurrencyPolicy; DaemonSet: Options.Nodes). Surge: maxSurge (25% rounded
// up by default; none for Recreate, StatefulSets, DaemonSets, Jobs).
// Processes per container: annotation pgfleet.dev/processes, WEB_CONCURRENCY
// (gunicorn, puma), UVICORN_WORKERS, --workers. Pool per process: annotation
// pgfleet.dev/pool-max, else the first matching [Convention] (its variables,
// then DSN parameters such as pool_max_conns or connection_limit, then its
// default). Every container counts, sidecars too. Environment values follow
// Kubernetes precedence (env over envFrom, later envFrom over earlier) and
// may come from ConfigMaps or Secrets; a Secret's value is used but never
// printed (in any format: a message names "<value from Secret ns/name key
// k>" instead, and a host read from a Secret gives the database ID
// "external:<host from Secret ns/name key k>"), and DSNs are printed
// without user, password or key material.
//
// # Input
//
// Each input is bounded: [Options.MaxFileBytes] per file, stdin or pipe,
// and [Options.ReadTimeout] for inputs that are not regular files (a FIFO,
// a device, a process substitution); directories are walked for regular
// files only. A document whose aliases would expand past
// [MaxExpandedDocument] is a PGF008 finding, and the other documents are
// still checked. Documents are cut at "---" (also "--- {...}" with content
// on the line), at "..." and between concatenated JSON objects; directives
// are skipped. An object (group, kind, namespace, name) read twice is
// counted once (PGF009). [Run] fails with an *[InputError] when the input
// holds no document at all: nothing checked is not a pass.
//
// Servers: Postgres StatefulSets/Deployments (-c max_connections=, a mounted
// postgresql.conf, Bitnami's POSTGRESQL_MAX_CONNECTIONS), CloudNativePG
// Cluster, Zalando postgresql, Crunchy PostgresCluster; a client's DSN host
// is resolved through Services. Settings not found are assumed from
// [Options] and reported (PGF006). Poolers (PgBouncer workloads,
// CloudNativePG Pooler) are databases for their clients (max_client_conn x
// pooler pods) and clients of their server ((default_pool_size +
// reserve_pool_size) x (db,user) pairs x pooler pods, autoscaler aware).
//
// Every count is read as an integer of at most 2147483647 (budget.MaxCount).
// A value that cannot be used (not an integer, negative, too large, an
// autoscaler's maxReplicas below 1) is a PGF007 finding and an unknown
// number, never replaced by a default; a database with such a setting is
// never ok. Nothing that was not read fits.
//
// pgfleet's own services: a container with PGFLEET_* variables runs dbx,
// which reads them with budget.ParseEnv; the checker reads the same
// variables from the manifest with the same function and sizes the pool as
// dbx does (PGFLEET_SHARE of the server over the declared worst case, else
// the DSN's pool_max_conns, else PGFLEET_POOL_MAX, else 5, at most
// PGFLEET_QUOTA; the worst case is at most PGFLEET_QUOTA). A declaration that
// allows fewer pods or processes than the manifest runs is PGF010: dbx would
// size itself for a smaller fleet than the autoscaler can make.
//
// Declared load (Little's law): annotations pgfleet.dev/rps (the workload's
// peak requests per second, all pods) and pgfleet.dev/db-time-per-request
// (connection time per request, e.g. "15ms") give the connections the peak
// keeps busy, rps x db time ([Load], budget.Concurrency, the formula dbx
// applies online). PGF013 under-capacity warns when max pods x processes x
// pool is below it: the fleet cannot carry its peak even where the server
// has room. An unreadable declaration is a PGF007 finding that leaves the
// database's verdict alone (the load is not in the connection arithmetic).
//
// # JSON schema (pgfleet.dev/budgetcheck/v1)
//
// The JSON output is [Report]: "schema"; "databases", each with "id", "kind"
// (postgres|pooler|external|unresolved), "location", "max_connections",
// "superuser_reserved", "reserved" (numbers), "headroom", "usable",
// "usable_explanation", "worst_case" (sum of known demands; a lower bound
// unless the verdict is ok|warn|over), "verdict" (ok|warn|over|unbounded|
// unknown), "explanation", "assumptions" and "clients" (each with "id",
// "workload", "container", "location", "database", "via", numbers "pods",
// "surge", "processes", "pool", "demand", "explanation", "suggested_pool",
// "quota" (a declared PGFLEET_QUOTA, omitted when none), "notes", "load" when declared: "rps", "db_time_per_request",
// "needed_connections", "capacity"); and "findings" ([Finding]: "check", "name", "severity",
// "database", "client", "location", "message", "arithmetic", "suggestion").
// A number is {"value", "state": known|unknown|unbounded, "source"}; value
// means something only when state is known. Fields are only ever added
// within v1.
package budgetcheck
