package topology

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PgBouncer pool modes.
const (
	SessionMode     = "session"
	TransactionMode = "transaction"
)

// BouncerConfig describes a PgBouncer to put in front of a cluster's primary.
// Zero fields take PgBouncer's own defaults except where stated, so that a
// test sees what a user's stock PgBouncer does.
type BouncerConfig struct {
	// Mode is pool_mode: [SessionMode] or [TransactionMode]. Default
	// TransactionMode (the mode that breaks naive clients; PgBouncer's own
	// default is session).
	Mode string
	// PoolSize is default_pool_size: server connections per (database, user)
	// pair. Default 20, PgBouncer's.
	PoolSize int
	// MaxClientConn is max_client_conn. Default 100, PgBouncer's.
	MaxClientConn int
	// Users are the roles besides postgres that may log in (auth_type trust
	// still needs them in auth_file). Default: postgres only.
	Users []string
	// Settings are further [pgbouncer] settings, such as
	// {"query_wait_timeout": "5"} or {"ignore_startup_parameters":
	// "extra_float_digits"}; they win over the fields above.
	Settings map[string]string
}

// Bouncer is a running PgBouncer process in front of a node, with the fault
// controls tests need. It is stopped with its cluster (or by [Bouncer.Close]).
type Bouncer struct {
	// Mode is the pool_mode it runs with.
	Mode string

	upstream *Node
	dir      string
	port     int
	portLock io.Closer
	bin      string
	attr     *syscall.SysProcAttr // how it runs: see bouncerProcAttr

	mu     sync.Mutex
	pid    int
	exited <-chan struct{} // closed when the process is gone
	frozen bool
	gone   bool
}

// DSN is a URL for the bouncer: the upstream's user and database, through
// PgBouncer's port, sslmode=disable.
func (b *Bouncer) DSN() string { return b.dsnFor("postgres") }

// DSNFor is a URL for the bouncer as another user (listed in
// BouncerConfig.Users) and the upstream's database.
func (b *Bouncer) DSNFor(user string) string { return b.dsnFor(user) }

func (b *Bouncer) dsnFor(user string) string {
	db := "postgres"
	if cfg, err := pgconn.ParseConfig(b.upstream.DSN()); err == nil && cfg.Database != "" {
		db = cfg.Database
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, b.port, db)
}

// Port is the TCP port PgBouncer listens on (127.0.0.1).
func (b *Bouncer) Port() int { return b.port }

// Upstream is the node the bouncer forwards to.
func (b *Bouncer) Upstream() *Node { return b.upstream }

// LaunchBouncer starts a PgBouncer in front of the primary (tests use
// dbxtest.StartBouncer). [Cluster.Close] stops it; so does [Bouncer.Close].
// Without a pgbouncer binary it returns an *UnavailableError.
func (c *Cluster) LaunchBouncer(ctx context.Context, cfg BouncerConfig) (*Bouncer, error) {
	ini, err := cfg.ini()
	if err != nil {
		return nil, err
	}
	bin, err := findPgBouncer()
	if err != nil {
		return nil, err
	}
	base, err := baseDir()
	if err != nil {
		return nil, err
	}
	up, err := pgconn.ParseConfig(c.Primary.DSN())
	if err != nil {
		return nil, fmt.Errorf("topology: parse the primary's DSN: %w", err)
	}
	attr, err := bouncerProcAttr()
	if err != nil {
		return nil, err
	}
	// Named like a cluster directory (owner, then a number), so the reaper
	// removes it when this process is gone.
	dir, err := os.MkdirTemp(base, OwnerID()+"-")
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, errors.Join(fmt.Errorf("topology: %w", err), os.RemoveAll(dir))
	}
	b := &Bouncer{Mode: ini["pool_mode"], upstream: c.Primary, dir: dir, bin: bin, attr: attr}
	if err := b.configure(ini, up, cfg.Users); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	if err := b.Start(ctx); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	c.OnClose(b.Close)
	return b, nil
}

// ini resolves the configuration into pgbouncer.ini's [pgbouncer] settings.
func (cfg BouncerConfig) ini() (map[string]string, error) {
	mode := cfg.Mode
	if mode == "" {
		mode = TransactionMode
	}
	if mode != SessionMode && mode != TransactionMode {
		return nil, fmt.Errorf("topology: BouncerConfig.Mode = %q: use %q or %q", cfg.Mode, SessionMode, TransactionMode)
	}
	if cfg.PoolSize < 0 || cfg.MaxClientConn < 0 {
		return nil, fmt.Errorf("topology: BouncerConfig{PoolSize: %d, MaxClientConn: %d}: must be >= 0 (0: PgBouncer's default)", cfg.PoolSize, cfg.MaxClientConn)
	}
	s := map[string]string{"pool_mode": mode}
	if cfg.PoolSize > 0 {
		s["default_pool_size"] = strconv.Itoa(cfg.PoolSize)
	}
	if cfg.MaxClientConn > 0 {
		s["max_client_conn"] = strconv.Itoa(cfg.MaxClientConn)
	}
	for k, v := range cfg.Settings {
		if strings.ContainsAny(k+v, "\n\r") {
			return nil, fmt.Errorf("topology: BouncerConfig.Settings[%q]: a line break would inject settings", k)
		}
		s[k] = v
	}
	return s, nil
}

// configure reserves the port and writes pgbouncer.ini and the auth file.
func (b *Bouncer) configure(settings map[string]string, up *pgconn.Config, users []string) error {
	port, lock, err := ReservePort()
	if err != nil {
		return err
	}
	b.port, b.portLock = port, lock
	fixed := map[string]string{
		"listen_addr":     "127.0.0.1",
		"listen_port":     strconv.Itoa(port),
		"unix_socket_dir": "",
		"auth_type":       "trust",
		"auth_file":       filepath.Join(b.dir, "userlist.txt"),
		"logfile":         filepath.Join(b.dir, "pgbouncer.log"),
		"admin_users":     "postgres",
		"stats_users":     "postgres",
	}
	for k, v := range fixed {
		if _, ok := settings[k]; ok && k != "auth_type" {
			return fmt.Errorf("topology: BouncerConfig.Settings[%q]: set by dbxtest, not configurable", k)
		}
		if _, ok := settings[k]; !ok {
			settings[k] = v
		}
	}
	var ini strings.Builder
	fmt.Fprintf(&ini, "[databases]\n* = host=%s port=%d\n\n[pgbouncer]\n", up.Host, up.Port)
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&ini, "%s = %s\n", k, settings[k])
	}
	var auth strings.Builder
	for _, u := range append([]string{"postgres"}, users...) {
		fmt.Fprintf(&auth, "%q \"\"\n", u)
	}
	for name, text := range map[string]string{"pgbouncer.ini": ini.String(), "userlist.txt": auth.String()} {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(text), 0o644); err != nil {
			return fmt.Errorf("topology: %w", err)
		}
	}
	// PgBouncer writes its log here as the user it runs as.
	if err := chownFor(b.dir, b.attr); err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	return nil
}

// findPgBouncer is $PGFLEET_PGBOUNCER, else pgbouncer on PATH or in /usr/sbin.
func findPgBouncer() (string, error) {
	if p := os.Getenv("PGFLEET_PGBOUNCER"); p != "" {
		if !isFile(p) {
			return "", &UnavailableError{Reason: "PGFLEET_PGBOUNCER=" + p + " is not a file"}
		}
		return p, nil
	}
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	if isFile("/usr/sbin/pgbouncer") {
		return "/usr/sbin/pgbouncer", nil
	}
	return "", &UnavailableError{Reason: "no pgbouncer binary: install it (apt-get install pgbouncer) or set PGFLEET_PGBOUNCER"}
}

// Start starts PgBouncer (again, after [Bouncer.Kill]) and waits until it
// accepts connections.
func (b *Bouncer) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.gone {
		b.mu.Unlock()
		return errors.New("topology: the bouncer was closed")
	}
	if b.runningLocked() {
		b.mu.Unlock()
		return errors.New("topology: the bouncer is already running")
	}
	cmd := exec.Command(b.bin, filepath.Join(b.dir, "pgbouncer.ini"))
	cmd.Dir = b.dir
	attr := *b.attr
	cmd.SysProcAttr = &attr
	out, err := os.OpenFile(filepath.Join(b.dir, "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.mu.Unlock()
		return fmt.Errorf("topology: %w", err)
	}
	exited, err := spawn(cmd, out)
	if err != nil {
		b.mu.Unlock()
		return fmt.Errorf("topology: start pgbouncer: %w", err)
	}
	b.pid, b.exited, b.frozen = cmd.Process.Pid, exited, false
	b.mu.Unlock()
	return b.waitReady(ctx)
}

// waitReady polls the port until PgBouncer accepts TCP connections.
func (b *Bouncer) waitReady(ctx context.Context) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-b.exited:
			return fmt.Errorf("topology: pgbouncer exited during startup; it says:\n%s", b.logTail())
		case <-ctx.Done():
			return fmt.Errorf("topology: pgbouncer not ready on port %d: %w; it says:\n%s", b.port, ctx.Err(), b.logTail())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Log returns the end of PgBouncer's log (its last 4000 bytes), for a
// failing test to show.
func (b *Bouncer) Log() string { return b.logTail() }

func (b *Bouncer) logTail() string {
	var s string
	for _, f := range []string{"stderr.log", "pgbouncer.log"} {
		if data, err := os.ReadFile(filepath.Join(b.dir, f)); err == nil {
			s += string(data)
		}
	}
	s = strings.TrimSpace(s)
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}

func (b *Bouncer) runningLocked() bool {
	if b.exited == nil {
		return false
	}
	select {
	case <-b.exited:
		return false
	default:
		return true
	}
}

func (b *Bouncer) signal(f fault) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.runningLocked() {
		return errors.New("topology: the bouncer is not running")
	}
	if err := signalBouncer(b.pid, f); err != nil {
		return fmt.Errorf("topology: signal pgbouncer: %w", err)
	}
	switch f {
	case faultFreeze:
		b.frozen = true
	case faultThaw:
		b.frozen = false
	}
	return nil
}

// fault is a signal the harness sends to a bouncer (per OS in
// pgbouncer_*.go).
type fault int

const (
	faultFreeze fault = iota // SIGSTOP
	faultThaw                // SIGCONT
	faultKill                // SIGKILL
)

// Freeze stops the PgBouncer process with SIGSTOP: the kernel still accepts
// connections on its port and nothing answers. A hung pooler.
func (b *Bouncer) Freeze() error { return b.signal(faultFreeze) }

// Thaw continues a frozen bouncer.
func (b *Bouncer) Thaw() error { return b.signal(faultThaw) }

// Kill ends PgBouncer with SIGKILL: every client connection breaks at once.
// [Bouncer.Start] brings it back on the same port.
func (b *Bouncer) Kill() error {
	if err := b.signal(faultKill); err != nil {
		return err
	}
	return b.wait(10 * time.Second)
}

func (b *Bouncer) wait(d time.Duration) error {
	b.mu.Lock()
	exited := b.exited
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return waitExited(ctx, exited, "pgbouncer")
}

// Pause runs PAUSE on the admin console: PgBouncer waits for the queries in
// flight (in transaction mode: the transactions) to finish, closes its server
// connections and holds new queries until [Bouncer.Resume]. A pooler under
// maintenance; it returns once the pause has taken effect.
func (b *Bouncer) Pause(ctx context.Context) error { return b.Admin(ctx, "PAUSE") }

// Resume runs RESUME on the admin console.
func (b *Bouncer) Resume(ctx context.Context) error { return b.Admin(ctx, "RESUME") }

// Admin runs a command on PgBouncer's admin console (database pgbouncer, as
// postgres), such as "RECONNECT" or "KILL postgres".
func (b *Bouncer) Admin(ctx context.Context, command string) error {
	return b.withAdmin(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, command)
		return err
	})
}

// Show runs SHOW <what> (POOLS, CLIENTS, SERVERS, STATS, CONFIG, ...) on the
// admin console and returns each row as column name -> text value.
func (b *Bouncer) Show(ctx context.Context, what string) ([]map[string]string, error) {
	var out []map[string]string
	err := b.withAdmin(ctx, func(conn *pgx.Conn) error {
		res, err := conn.PgConn().Exec(ctx, "SHOW "+what).ReadAll()
		if err != nil {
			return err
		}
		for _, r := range res {
			for _, row := range r.Rows {
				m := make(map[string]string, len(row))
				for i, f := range r.FieldDescriptions {
					m[f.Name] = string(row[i])
				}
				out = append(out, m)
			}
		}
		return nil
	})
	return out, err
}

// Connect opens a connection through the bouncer as another client would:
// user postgres, the simple protocol (a transaction-mode pooler keeps no
// prepared statements).
func (b *Bouncer) Connect(ctx context.Context) (*pgx.Conn, error) {
	return connectSimple(ctx, b.DSN())
}

func connectSimple(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("topology: connect through pgbouncer: %w", err)
	}
	return conn, nil
}

func (b *Bouncer) withAdmin(ctx context.Context, fn func(*pgx.Conn) error) error {
	// The console speaks the simple protocol only.
	conn, err := connectSimple(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/pgbouncer?sslmode=disable", b.port))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := fn(conn); err != nil {
		return fmt.Errorf("topology: pgbouncer console: %w", err)
	}
	return nil
}

// Close stops PgBouncer (SIGKILL: it holds no state worth a clean exit) and
// removes its directory. It is safe to call more than once.
func (b *Bouncer) Close() error {
	b.mu.Lock()
	if b.gone {
		b.mu.Unlock()
		return nil
	}
	b.gone = true
	alive := b.runningLocked()
	pid := b.pid
	b.mu.Unlock()
	var err error
	if alive {
		if e := signalBouncer(pid, faultKill); e != nil {
			err = fmt.Errorf("topology: stop pgbouncer: %w", e)
		}
		if e := b.wait(10 * time.Second); e != nil && err == nil {
			err = e
		}
	}
	return release(b.dir, b.portLock, err)
}
