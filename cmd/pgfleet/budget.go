package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/budget"
	"github.com/pgfleet/pgfleet/internal/dsn"
)

var budgetCommand = &command{
	Name:    "budget",
	Summary: "show the server's connection budget and each service's quota slots, or print per-role limits for a plan",
	Usage:   budgetUsage,
	Run:     runBudget,
}

const budgetUsage = `usage: pgfleet budget status [--dsn DSN] [--quota SERVICE=N[:MIN]]... [--format text|json]
       pgfleet budget roles --quota SERVICE=N... [--role SERVICE=ROLE]...

status  reads the server (max_connections, reserved slots, client backends)
        and shows, per service and per pod (application_name "service/pod"),
        the backends open and the fleet-quota slots held (the advisory locks
        dbx takes in the service's space, dbx.QuotaSpace), against each
        quota you pass, and the server's headroom. Quotas live in the pods'
        configuration (PGFLEET_QUOTA), not on the server: pass them to see
        them side by side. Callers waiting for a connection are in each
        pod's metrics (pgfleet_gate_waiters), not on the server.
roles   prints the ALTER ROLE ... CONNECTION LIMIT statements that make
        Postgres enforce each service's quota per role as well (the role is
        the service's name unless --role says otherwise); dbx warns at
        start-up when a role's limit disagrees with the quota.

flags:
  --dsn DSN                 the server. Default: $DATABASE_URL
  --quota SERVICE=N[:MIN]   a service's quota and guaranteed minimum per pod;
                            repeat it per service
  --role SERVICE=ROLE       the Postgres role a service connects as
  --format text|json        status output (default text)
`

// quotaFlags collects repeated --quota SERVICE=N[:MIN].
type quotaFlags map[string][2]int

func (q quotaFlags) String() string { return fmt.Sprintf("%d quotas", len(q)) }
func (q quotaFlags) Set(s string) error {
	name, v, ok := strings.Cut(s, "=")
	quota, minimum, hasMin := strings.Cut(v, ":")
	n, err := strconv.Atoi(quota)
	m := 0
	if hasMin && err == nil {
		m, err = strconv.Atoi(minimum)
	}
	if !ok || name == "" || err != nil || n < 1 || m < 0 || budget.CheckCount("", n) != nil {
		return fmt.Errorf("--quota %q: want SERVICE=N or SERVICE=N:MIN with N >= 1, e.g. orders=40:1", s)
	}
	q[name] = [2]int{n, m}
	return nil
}

// roleFlags collects repeated --role SERVICE=ROLE.
type roleFlags map[string]string

func (r roleFlags) String() string { return fmt.Sprintf("%d roles", len(r)) }
func (r roleFlags) Set(s string) error {
	name, role, ok := strings.Cut(s, "=")
	if !ok || name == "" || role == "" {
		return fmt.Errorf("--role %q: want SERVICE=ROLE, e.g. orders=orders_app", s)
	}
	r[name] = role
	return nil
}

func runBudget(ctx context.Context, e *env, args []string) error {
	const cmd = "budget"
	action, rest, err := takeAction(cmd, args, "status", "roles")
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("budget "+action, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	quotas, roles := quotaFlags{}, roleFlags{}
	fs.Var(quotas, "quota", "")
	fs.Var(roles, "role", "")
	conn := fs.String("dsn", "", "")
	format := fs.String("format", "text", "")
	if err := parseFlags(fs, rest, cmd, "budget "+action); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(cmd, "budget %s: unexpected argument %q", action, fs.Arg(0))
	}
	switch action {
	case "roles":
		if len(quotas) == 0 {
			return usagef(cmd, "budget roles: pass the plan: --quota SERVICE=N for each service")
		}
		return printRoles(e.Stdout, quotas, roles)
	default: // status (takeAction allows no other)
		if *format != "text" && *format != "json" {
			return usagef(cmd, "budget status: --format %q: want text or json", *format)
		}
		if *conn == "" {
			*conn = e.Getenv("DATABASE_URL")
		}
		if *conn == "" {
			return usagef(cmd, "budget status: no server: pass --dsn or set DATABASE_URL")
		}
		st, err := readStatus(ctx, *conn, quotas)
		if err != nil {
			return err
		}
		if *format == "json" {
			enc := json.NewEncoder(e.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		st.text(e.Stdout)
		return nil
	}
}

// printRoles prints one ALTER ROLE per service, in name order.
func printRoles(w io.Writer, quotas quotaFlags, roles roleFlags) error {
	names := make([]string, 0, len(quotas))
	for n := range quotas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		role := roles[n]
		if role == "" {
			role = n
		}
		fmt.Fprintf(w, "ALTER ROLE %s CONNECTION LIMIT %d; -- service %s\n", pgx.Identifier{role}.Sanitize(), quotas[n][0], n)
	}
	return nil
}

// status is what `budget status` shows.
type status struct {
	Server struct {
		MaxConnections int    `json:"max_connections"`
		Reserved       int    `json:"reserved"` // superuser_reserved + reserved_connections
		Usable         int    `json:"usable"`
		Backends       int    `json:"client_backends"`
		Headroom       int    `json:"headroom"` // usable - client backends
		Explanation    string `json:"explanation"`
	} `json:"server"`
	Services []*serviceStatus `json:"services"`
}

type serviceStatus struct {
	Service    string       `json:"service"`
	LockSpace  int32        `json:"lock_space"`
	Quota      int          `json:"quota,omitempty"` // 0: not given
	Guaranteed int          `json:"guaranteed_per_pod,omitempty"`
	SlotsHeld  int          `json:"slots_held"`
	Backends   int          `json:"backends"`
	Pods       []*podStatus `json:"pods"`
}

type podStatus struct {
	Pod       string `json:"pod"`
	SlotsHeld int    `json:"slots_held"`
	Backends  int    `json:"backends"`
}

func readStatus(ctx context.Context, connString string, quotas quotaFlags) (*status, error) {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return nil, fmt.Errorf("pgfleet: connect to %s: %w", dsn.Redact(connString), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	st := &status{}
	var srv budget.Server
	if err := conn.QueryRow(ctx, `SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,
		coalesce(current_setting('reserved_connections', true), '0')::int`).Scan(&srv.MaxConnections, &srv.SuperuserReserved, &srv.Reserved); err != nil {
		return nil, fmt.Errorf("pgfleet: read the server's limits: %w", err)
	}
	backends, err := pgx.CollectRows(queryRows(ctx, conn, `SELECT pid, application_name FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`), pgx.RowToStructByPos[struct {
		PID int32
		App string
	}])
	if err != nil {
		return nil, fmt.Errorf("pgfleet: read pg_stat_activity: %w", err)
	}
	locks, err := pgx.CollectRows(queryRows(ctx, conn, `SELECT pid, classid::int8 FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND pid IS NOT NULL`), pgx.RowToStructByPos[struct {
		PID   int32
		Space int64
	}])
	if err != nil {
		return nil, fmt.Errorf("pgfleet: read pg_locks: %w", err)
	}
	st.Server.MaxConnections, st.Server.Reserved = srv.MaxConnections, srv.SuperuserReserved+srv.Reserved
	st.Server.Usable, st.Server.Backends = srv.Usable(), len(backends)
	st.Server.Headroom, st.Server.Explanation = srv.Usable()-len(backends), srv.Explain()

	spaces := map[int32][]int64{} // pid -> lock spaces it holds slots in
	for _, l := range locks {
		spaces[l.PID] = append(spaces[l.PID], l.Space)
	}
	services := map[string]*serviceStatus{}
	service := func(name string) *serviceStatus {
		s := services[name]
		if s == nil {
			s = &serviceStatus{Service: name, LockSpace: dbx.QuotaSpace(name)}
			if q, ok := quotas[name]; ok {
				s.Quota, s.Guaranteed = q[0], q[1]
			}
			services[name] = s
		}
		return s
	}
	for name := range quotas {
		service(name)
	}
	for _, b := range backends {
		name, pod, ok := strings.Cut(b.App, "/")
		if !ok {
			name, pod = "(no service: application_name "+strconv.Quote(b.App)+")", ""
		}
		s := service(name)
		s.Backends++
		var p *podStatus
		for _, x := range s.Pods {
			if x.Pod == pod {
				p = x
			}
		}
		if p == nil {
			p = &podStatus{Pod: pod}
			s.Pods = append(s.Pods, p)
		}
		p.Backends++
		for _, sp := range spaces[b.PID] {
			if sp == int64(s.LockSpace) {
				p.SlotsHeld++
				s.SlotsHeld++
			}
		}
	}
	for _, s := range services {
		sort.Slice(s.Pods, func(i, j int) bool { return s.Pods[i].Pod < s.Pods[j].Pod })
		st.Services = append(st.Services, s)
	}
	sort.Slice(st.Services, func(i, j int) bool { return st.Services[i].Service < st.Services[j].Service })
	return st, nil
}

// queryRows returns rows whose error, if any, CollectRows reports.
func queryRows(ctx context.Context, conn *pgx.Conn, sql string) pgx.Rows {
	rows, _ := conn.Query(ctx, sql)
	return rows
}

func (st *status) text(w io.Writer) {
	fmt.Fprintf(w, "server: %s; %d client backends, headroom %d\n\n", st.Server.Explanation, st.Server.Backends, st.Server.Headroom)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tPOD\tSLOTS HELD\tQUOTA\tGUARANTEED\tBACKENDS")
	for _, s := range st.Services {
		quota, guaranteed := "-", "-"
		if s.Quota > 0 {
			quota, guaranteed = strconv.Itoa(s.Quota), strconv.Itoa(s.Guaranteed)
		}
		fmt.Fprintf(tw, "%s\t(all)\t%d\t%s\t%s\t%d\n", s.Service, s.SlotsHeld, quota, guaranteed, s.Backends)
		for _, p := range s.Pods {
			fmt.Fprintf(tw, "\t%s\t%d\t\t%s\t%d\n", p.Pod, p.SlotsHeld, guaranteed, p.Backends)
		}
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nslots are dbx fleet-quota advisory locks (dbx.QuotaSpace of the service); a service without a quota holds none. Waiters per pod: pgfleet_gate_waiters.")
}
