package budgetcheck

import (
	"fmt"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// State says whether a [Number] is known.
type State string

const (
	Known     State = "known"
	Unknown   State = "unknown"   // the manifests do not say; see Source
	Unbounded State = "unbounded" // the configuration sets no limit at all
)

// Number is a figure of the model with where it came from. Value is
// meaningful only when State is Known.
type Number struct {
	Value  int    `json:"value"`
	State  State  `json:"state"`
	Source string `json:"source"`
}

func known(v int, format string, args ...any) Number {
	return Number{Value: v, State: Known, Source: fmt.Sprintf(format, args...)}
}

func unknown(format string, args ...any) Number {
	return Number{State: Unknown, Source: fmt.Sprintf(format, args...)}
}

func unbounded(format string, args ...any) Number {
	return Number{State: Unbounded, Source: fmt.Sprintf(format, args...)}
}

// String renders the value alone: "10", "unknown" or "unbounded".
func (n Number) String() string {
	if n.State == Known {
		return fmt.Sprint(n.Value)
	}
	return string(n.State)
}

// DatabaseKind says what a [Database] is.
type DatabaseKind string

const (
	// Postgres is a server found in the manifests.
	Postgres DatabaseKind = "postgres"
	// Pooler is a connection pooler (PgBouncer); its budget is the client
	// connections it accepts, and it is itself a client of a Postgres.
	Pooler DatabaseKind = "pooler"
	// External is a server the manifests reach but do not define (a
	// managed database, or a host that resolves to no Service).
	External DatabaseKind = "external"
	// Unresolved collects clients whose database could not be determined.
	Unresolved DatabaseKind = "unresolved"
)

// Verdict is the outcome for one database.
type Verdict string

const (
	VerdictOK        Verdict = Verdict(budget.OK)
	VerdictWarn      Verdict = Verdict(budget.Warn)
	VerdictOver      Verdict = Verdict(budget.Over)
	VerdictUnbounded Verdict = "unbounded" // a client has no pool limit
	VerdictUnknown   Verdict = "unknown"   // a client's demand is unknown
)

// Database is one connection budget: a Postgres server, a pooler's client
// side, or an unresolved target, with the clients that draw on it.
type Database struct {
	ID       string       `json:"id"`
	Kind     DatabaseKind `json:"kind"`
	Location Location     `json:"location"`
	// MaxConnections is max_connections (for a pooler: max_client_conn x
	// pooler pods).
	MaxConnections    Number `json:"max_connections"`
	SuperuserReserved Number `json:"superuser_reserved"`
	Reserved          Number `json:"reserved"`
	Headroom          int    `json:"headroom"`
	Usable            int    `json:"usable"`
	UsableExplanation string `json:"usable_explanation"`
	// WorstCase is the sum of the known clients' worst-case demands; a lower
	// bound when Verdict is unbounded or unknown.
	WorstCase   int       `json:"worst_case"`
	Verdict     Verdict   `json:"verdict"`
	Explanation string    `json:"explanation"`
	Clients     []*Client `json:"clients"`
	Assumptions []string  `json:"assumptions"`

	upstream *Client // for a pooler: its server-side connections
	invalid  bool    // a setting of this database is a PGF007 problem: it cannot be ok
	// (workload key, owner label) for a Postgres found in a workload
	workload string
}

func (d *Database) server() budget.Server {
	return budget.Server{
		MaxConnections:    d.MaxConnections.Value,
		SuperuserReserved: d.SuperuserReserved.Value,
		Reserved:          d.Reserved.Value,
		Headroom:          d.Headroom,
	}
}

// Client is one container (or pooler) that opens connections to a
// database, with every number of its worst-case demand.
type Client struct {
	ID        string   `json:"id"` // namespace/Kind/name[/container]
	Workload  string   `json:"workload"`
	Container string   `json:"container,omitempty"`
	Location  Location `json:"location"`
	Database  string   `json:"database"`
	Via       string   `json:"via"` // how the database was found
	Pods      Number   `json:"pods"`
	Surge     Number   `json:"surge"`
	// Processes is the number of pools per pod (for a pooler: the (db,user)
	// pairs it serves).
	Processes Number `json:"processes"`
	Pool      Number `json:"pool"`
	// Demand is (pods + surge) x processes x pool when all four are known.
	Demand      Number `json:"demand"`
	Explanation string `json:"explanation"`
	// SuggestedPool is a pool per process that fits when the database is
	// over or near its budget, weighted by the client's current share; 0
	// when there is no suggestion.
	SuggestedPool int `json:"suggested_pool,omitempty"`
	// Quota is the PGFLEET_QUOTA the client declares: its fleet never holds
	// more connections, whatever its pods and pool. 0: none.
	Quota int      `json:"quota,omitempty"`
	Notes []string `json:"notes,omitempty"`
	// Load is the declared peak (annotations pgfleet.dev/rps and
	// pgfleet.dev/db-time-per-request) and what it needs; nil when not
	// declared.
	Load *Load `json:"load,omitempty"`

	demand budget.Demand // dbx/budget's arithmetic behind Demand, when it is known
}
