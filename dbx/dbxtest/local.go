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
	dir := filepath.Join(l.base, fmt.Sprintf("%d-%d-%d", os.Getpid(), selfStartTime(), clusterID.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dbxtest: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dbxtest: %w", err)
	}
	c := topo.cluster("local")
	c.release = func() error { return os.RemoveAll(dir) }
	// Every node starts as a copy of the template. Then the shards start
	// alongside the primary, and the replicas as soon as the primary is up.
	if err := parallel(c.Nodes(), func(n *Node) error { return l.copyTemplate(ctx, tmpl, dir, n) }); err != nil {
		return c, err
	}
	start := func(n *Node) error { return l.startNew(ctx, dir, n, topo.settingsFor(n.Name)) }
	err = parallel([]*Node{c.Primary, {Name: "shards"}}, func(n *Node) error {
		if n != c.Primary {
			return parallel(c.Shards, start)
		}
		if err := start(c.Primary); err != nil {
			return err
		}
		primary := c.Primary.ctl.(*localNode)
		return parallel(c.Replicas, func(r *Node) error { return l.startReplica(ctx, dir, primary, r, topo.settingsFor(r.Name)) })
	})
	return c, err
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
func (l *local) copyTemplate(ctx context.Context, tmpl, clusterDir string, n *Node) error {
	if out, err := exec.CommandContext(ctx, "cp", "-a", tmpl, filepath.Join(clusterDir, n.Name)).CombinedOutput(); err != nil {
		return fmt.Errorf("dbxtest: copy template for %s: %v: %s", n.Name, err, out)
	}
	return nil
}

// startReplica makes a streaming standby of the primary from the template.
// Every node is a copy of the same cleanly shut down cluster, so a copy is a
// valid base backup of the primary as it was before it started (a cold
// backup, in the docs' terms): the standby replays the primary's WAL from
// the template's shutdown checkpoint, which the primary still holds. This is
// several times faster than pg_basebackup and needs no checkpoint.
func (l *local) startReplica(ctx context.Context, clusterDir string, primary *localNode, n *Node, settings map[string]string) error {
	data := filepath.Join(clusterDir, n.Name)
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres application_name=%s", primary.port, n.Name)
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
	if err := l.startNew(ctx, clusterDir, n, settings); err != nil {
		return err
	}
	return waitStreaming(ctx, n)
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

// startNew starts a node for the first time on a free port, trying another
// port when a process outside our locks took the one we picked.
func (l *local) startNew(ctx context.Context, clusterDir string, n *Node, settings map[string]string) error {
	data := filepath.Join(clusterDir, n.Name)
	var lastErr error
	for range 5 {
		port, lock, err := l.reservePort()
		if err != nil {
			return err
		}
		ln := &localNode{l: l, name: n.Name, data: data, log: filepath.Join(clusterDir, n.Name+".log"), port: port, portLock: lock, settings: settings}
		n.ctl = ln
		n.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
		lastErr = ln.start(ctx)
		if lastErr == nil || !errors.Is(lastErr, errPortInUse) {
			return lastErr
		}
		_ = lock.Close()
	}
	return lastErr
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
