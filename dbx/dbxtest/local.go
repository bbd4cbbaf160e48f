package dbxtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// local runs the host's Postgres binaries.
type local struct {
	bindir  string
	version string              // "postgres (PostgreSQL) 15.20 ..."
	cred    *syscall.Credential // the postgres user's, when running as root
	base    string              // parent of every cluster directory
}

var (
	localOnce sync.Once
	localB    *local
	localErr  error
	clusterID atomic.Int64
)

// newLocal finds the binaries and the user to run them as, once per process,
// and reaps clusters left behind by dead test processes.
func newLocal() (*local, error) {
	localOnce.Do(func() {
		localB, localErr = findLocal()
		if localErr == nil {
			reap(localB.base)
		}
	})
	return localB, localErr
}

func findLocal() (*local, error) {
	bindir, err := findBindir()
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(filepath.Join(bindir, "postgres"), "--version").Output()
	if err != nil {
		return nil, &UnavailableError{Reason: fmt.Sprintf("%s/postgres --version: %v: %s", bindir, err, installHint)}
	}
	l := &local{bindir: bindir, version: strings.TrimSpace(string(out))}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, &UnavailableError{Reason: "running as root and there is no postgres user to run the server as: create one (useradd postgres) or run the tests as another user"}
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		l.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	l.base = filepath.Join(dataRoot(), "pgfleet-dbxtest")
	if err := os.MkdirAll(filepath.Join(l.base, "ports"), 0o755); err != nil {
		return nil, fmt.Errorf("dbxtest: %w", err)
	}
	// MkdirAll honours the umask; the server user must be able to traverse.
	if err := os.Chmod(l.base, 0o755); err != nil && !errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("dbxtest: %w", err)
	}
	return l, nil
}

// dataRoot is PGFLEET_TEST_DATADIR, else tmpfs (/dev/shm) when writable:
// Postgres on the ext4 disks of these machines is 5-10x slower.
func dataRoot() string {
	if d := os.Getenv("PGFLEET_TEST_DATADIR"); d != "" {
		return d
	}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() && syscall.Access("/dev/shm", 2) == nil {
		return "/dev/shm"
	}
	return os.TempDir()
}

func findBindir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		if !isFile(filepath.Join(d, "postgres")) {
			return "", &UnavailableError{Reason: "PG_BINDIR=" + d + " holds no postgres binary"}
		}
		return d, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if isFile(filepath.Join(d, "postgres")) && isFile(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "postgres")) && isFile(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", &UnavailableError{Reason: "no Postgres server binaries (looked at PG_BINDIR, pg_config --bindir, /usr/lib/postgresql/*/bin)"}
}

// Binary returns the path of a program of the Postgres installation the
// local backend runs (found as documented in the package doc), such as
// "pgbench" or "psql", so that tools match the server's version.
func Binary(name string) (string, error) {
	dir, err := findBindir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	if !isFile(p) {
		return "", &UnavailableError{Reason: p + " does not exist: install the package that ships " + name}
	}
	return p, nil
}

func versionOf(bindir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(bindir)), 64)
	return v
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// command builds a command for one of the server binaries, run as the server
// user when needed.
func (l *local) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(l.bindir, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: l.cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGAPPNAME=dbxtest")
	return cmd
}

// chown hands a path to the server user.
func (l *local) chown(path string) error {
	if l.cred == nil {
		return nil
	}
	return os.Chown(path, int(l.cred.Uid), int(l.cred.Gid))
}

func (l *local) launch(ctx context.Context, topo Topology) (*Cluster, error) {
	tmpl, err := l.template(ctx)
	if err != nil {
		return nil, err
	}
	// Ports are reserved up front (a standby's config names its primary's);
	// if a process outside our locks takes one before its server binds it,
	// start over with fresh ports.
	for attempt := 1; ; attempt++ {
		c, err := l.launchOnce(ctx, tmpl, topo)
		if err == nil || !errors.Is(err, errPortInUse) || attempt == 3 {
			return c, err
		}
		_ = c.Close()
	}
}

func (l *local) launchOnce(ctx context.Context, tmpl string, topo Topology) (*Cluster, error) {
	dir := filepath.Join(l.base, fmt.Sprintf("%d-%d-%d", os.Getpid(), selfStartTime(), clusterID.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dbxtest: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dbxtest: %w", err)
	}
	c := topo.cluster("local")
	c.release = func() error { return os.RemoveAll(dir) }
	for _, n := range c.Nodes() {
		port, lock, err := l.reservePort()
		if err != nil {
			return c, err
		}
		n.ctl = &localNode{l: l, name: n.Name, data: filepath.Join(dir, n.Name), log: filepath.Join(dir, n.Name+".log"),
			port: port, portLock: lock, settings: topo.settingsFor(n.Name)}
		n.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	}
	primaryPort := c.Primary.ctl.(*localNode).port
	// Every node is a copy of the template and all start at once: a standby
	// is consistent from its own copy and streams as soon as the primary
	// answers.
	err := parallel(c.Nodes(), func(n *Node) error {
		ln := n.ctl.(*localNode)
		if err := l.copyTemplate(ctx, tmpl, ln.data); err != nil {
			return fmt.Errorf("dbxtest: copy template for %s: %w", n.Name, err)
		}
		if n.Role == RoleReplica {
			if err := l.makeStandby(ln.data, n.Name, primaryPort); err != nil {
				return err
			}
		}
		return ln.start(ctx)
	})
	if err != nil {
		return c, err
	}
	return c, parallel(c.Replicas, func(n *Node) error { return waitStreaming(ctx, n) })
}

// parallel runs fn for every node at once and joins the errors.
func parallel(nodes []*Node, fn func(*Node) error) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = fn(n) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// copyTemplate makes a node's data directory from the template.
func (l *local) copyTemplate(ctx context.Context, tmpl, data string) error {
	if out, err := exec.CommandContext(ctx, "cp", "-a", tmpl, data).CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// makeStandby turns a copy of the template into a streaming standby of the
// primary. Every node is a copy of the same cleanly shut down cluster, so a
// copy is a valid base backup of the primary as it was before it started (a
// cold backup, in the docs' terms): the standby replays the primary's WAL
// from the template's shutdown checkpoint, which the primary still holds.
// This is several times faster than pg_basebackup and needs no checkpoint.
func (l *local) makeStandby(data, name string, primaryPort int) error {
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres application_name=%s", primaryPort, name)
	auto, err := os.OpenFile(filepath.Join(data, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("dbxtest: %w", err)
	}
	_, err = fmt.Fprintf(auto, "primary_conninfo = '%s'\n", conninfo)
	if cerr := auto.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dbxtest: %w", err)
	}
	signal := filepath.Join(data, "standby.signal")
	if err := os.WriteFile(signal, nil, 0o600); err != nil {
		return fmt.Errorf("dbxtest: %w", err)
	}
	if err := l.chown(signal); err != nil {
		return fmt.Errorf("dbxtest: %w", err)
	}
	return nil
}

// waitStreaming waits until a standby's WAL receiver streams from its
// primary, so that a test's first write reaches it without a reconnect delay.
func waitStreaming(ctx context.Context, n *Node) error {
	return n.withConn(ctx, func(conn *pgx.Conn) error {
		for {
			var streaming bool
			err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')`).Scan(&streaming)
			if err != nil || streaming {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("dbxtest: %s is not streaming from the primary: %w", n.Name, ctx.Err())
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
}

// runContext runs a short command and kills it when ctx ends.
func runContext(ctx context.Context, cmd *exec.Cmd) ([]byte, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return []byte(out.String()), err
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return []byte(out.String()), ctx.Err()
	}
}
