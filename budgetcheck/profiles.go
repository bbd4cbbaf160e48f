package budgetcheck

import (
	"net"
	"strings"
)

// AppProfile is what a well-known application does with Postgres, keyed by
// its image: where it takes the database host, its pool size setting and
// the default it falls back to. A profile makes an otherwise unknown client
// known; an application with no profile stays unknown (or is read through
// its framework's [Convention]). Every default names the version and the
// document it was read from.
type AppProfile struct {
	Name    string
	Images  []string // last path element of the image, without tag
	Version string   // the version the default was read from
	Source  string   // where the default is documented
	HostEnv []string // variables naming the database host (host or host:port)
	// TypeEnv are variables choosing the database kind: when one is set to
	// something other than Postgres, the container is not a Postgres client.
	TypeEnv []string
	PoolEnv []string // variables setting the pool max per process
	Default int
	// DefaultState is Known when Default is the pool, Unbounded when the
	// application sets no limit by default.
	DefaultState State
	// ZeroUnbounded: a pool setting of 0 means no limit.
	ZeroUnbounded bool
}

// Profiles is the registry of application profiles. DSN variables need no
// listing: any variable holding a Postgres URL or JDBC URL is read.
var Profiles = []*AppProfile{
	{Name: "gitea", Images: []string{"gitea"}, Version: "1.22",
		Source:  "docs.gitea.com config cheat sheet [database] MAX_OPEN_CONNS: default 0, no limit (env GITEA__database__KEY)",
		HostEnv: []string{"GITEA__database__HOST", "GITEA__DATABASE__HOST"}, TypeEnv: []string{"GITEA__database__DB_TYPE", "GITEA__DATABASE__DB_TYPE"}, PoolEnv: []string{"GITEA__database__MAX_OPEN_CONNS", "GITEA__DATABASE__MAX_OPEN_CONNS"},
		DefaultState: Unbounded, ZeroUnbounded: true},
	{Name: "forgejo", Images: []string{"forgejo"}, Version: "9.0",
		Source:  "Forgejo config cheat sheet [database] MAX_OPEN_CONNS: default 0, no limit (env FORGEJO__database__KEY, GITEA__ accepted)",
		HostEnv: []string{"FORGEJO__database__HOST", "GITEA__database__HOST"}, TypeEnv: []string{"FORGEJO__database__DB_TYPE", "GITEA__database__DB_TYPE"}, PoolEnv: []string{"FORGEJO__database__MAX_OPEN_CONNS", "GITEA__database__MAX_OPEN_CONNS"},
		DefaultState: Unbounded, ZeroUnbounded: true},
	{Name: "grafana", Images: []string{"grafana", "grafana-enterprise", "grafana-oss"}, Version: "11.x",
		Source:  "grafana conf/defaults.ini [database] max_open_conn: empty = 0, no limit (env GF_DATABASE_MAX_OPEN_CONN)",
		HostEnv: []string{"GF_DATABASE_HOST"}, TypeEnv: []string{"GF_DATABASE_TYPE"}, PoolEnv: []string{"GF_DATABASE_MAX_OPEN_CONN"},
		DefaultState: Unbounded, ZeroUnbounded: true},
	{Name: "keycloak", Images: []string{"keycloak"}, Version: "26",
		Source:  "keycloak.org server all-config: db-pool-max-size default 100 (env KC_DB_POOL_MAX_SIZE)",
		HostEnv: []string{"KC_DB_URL_HOST"}, TypeEnv: []string{"KC_DB"}, PoolEnv: []string{"KC_DB_POOL_MAX_SIZE"},
		Default: 100, DefaultState: Known},
	{Name: "postgrest", Images: []string{"postgrest"}, Version: "12",
		Source:  "docs.postgrest.org references/configuration db-pool: default 10 (env PGRST_DB_POOL)",
		PoolEnv: []string{"PGRST_DB_POOL"}, Default: 10, DefaultState: Known},
	{Name: "hasura", Images: []string{"graphql-engine"}, Version: "2.x",
		Source:  "hasura.io docs deployment/graphql-engine-flags: HASURA_GRAPHQL_PG_CONNECTIONS default 50",
		PoolEnv: []string{"HASURA_GRAPHQL_PG_CONNECTIONS"}, Default: 50, DefaultState: Known},
	{Name: "metabase", Images: []string{"metabase", "metabase-enterprise"}, Version: "0.50",
		Source:  "metabase.com docs configuring-metabase/environment-variables: MB_APPLICATION_DB_MAX_CONNECTION_POOL_SIZE default 15",
		HostEnv: []string{"MB_DB_HOST"}, TypeEnv: []string{"MB_DB_TYPE"}, PoolEnv: []string{"MB_APPLICATION_DB_MAX_CONNECTION_POOL_SIZE"},
		Default: 15, DefaultState: Known},
	{Name: "harbor", Images: []string{"harbor-core", "harbor-exporter"}, Version: "chart 1.16",
		Source:  "goharbor/harbor-helm values.yaml database.maxOpenConns 900, passed as POSTGRESQL_MAX_OPEN_CONNS (core) and HARBOR_DATABASE_MAX_OPEN_CONNS (exporter); unset, Harbor's own default was not verified: unknown",
		PoolEnv: []string{"POSTGRESQL_MAX_OPEN_CONNS", "HARBOR_DATABASE_MAX_OPEN_CONNS"}, DefaultState: Unknown, ZeroUnbounded: true},
	{Name: "postgres-exporter", Images: []string{"postgres-exporter", "postgres_exporter"}, Version: "0.15",
		Source:  "prometheus-community/postgres_exporter cmd/postgres_exporter/server.go NewServer and pkg/collector/instance.go setup: SetMaxOpenConns(1) each, 2 per target",
		HostEnv: []string{"DATA_SOURCE_URI"}, Default: 2, DefaultState: Known},
}

// profileFor returns the profile of a container image, or nil.
func profileFor(image string) *AppProfile {
	name := imageName(image)
	for _, p := range Profiles {
		for _, im := range p.Images {
			if name == im {
				return p
			}
		}
	}
	return nil
}

// postgres reports whether the profile applies and the container's
// database kind, where it says one, is Postgres. A nil profile does not.
func (p *AppProfile) postgres(vars map[string]envValue) bool {
	if p == nil {
		return false
	}
	for _, t := range p.TypeEnv {
		if v, ok := vars[t]; ok && v.value != "" && !strings.Contains(strings.ToLower(v.value), "postgres") {
			return false
		}
	}
	return true
}

// convention turns the profile into the pool rule the clients code reads.
func (p *AppProfile) convention() *Convention {
	return &Convention{Name: "app " + p.Name, Doc: p.Name + " " + p.Version + ": " + p.Source,
		PoolEnv: p.PoolEnv, Default: p.Default, DefaultState: p.DefaultState, ZeroUnbounded: p.ZeroUnbounded}
}

// host returns the database host the profile's variables name, without a
// port, and the variable it came from.
func (p *AppProfile) host(vars map[string]envValue) (string, envValue) {
	for _, h := range p.HostEnv {
		v, ok := vars[h]
		if !ok || v.value == "" {
			continue
		}
		host, _, _ := strings.Cut(v.value, "/") // host:port/db?params (DATA_SOURCE_URI)
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		return strings.TrimSpace(host), v
	}
	return "", envValue{}
}
