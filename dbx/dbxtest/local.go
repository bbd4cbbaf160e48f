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
	c := &Cluster{Backend: "local", release: func() error { return os.RemoveAll(dir) }}

	// The primary and the shards are independent: copy and start them at once.
	c.Primary = &Node{Name: "primary", Role: RolePrimary}
	c.Shards = make([]*Node, topo.Shards)
	for i := range c.Shards {
		c.Shards[i] = &Node{Name: fmt.Sprintf("shard%d", i), Role: RoleShard}
	}
	err = parallel(append([]*Node{c.Primary}, c.Shards...), func(n *Node) error {
		return l.startCopy(ctx, dir, tmpl, n, topo.settingsFor(n.Name))
	})
	if err != nil {
		return c, err
	}
	primary := c.Primary.ctl.(*localNode)
	c.Replicas = make([]*Node, topo.Replicas)
	for i := range c.Replicas {
		c.Replicas[i] = &Node{Name: fmt.Sprintf("replica%d", i), Role: RoleReplica}
	}
	err = parallel(c.Replicas, func(n *Node) error {
		return l.startReplica(ctx, dir, primary, n, topo.settingsFor(n.Name))
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

// startCopy makes a node from the template and starts it.
func (l *local) startCopy(ctx context.Context, clusterDir, tmpl string, n *Node, settings map[string]string) error {
	data := filepath.Join(clusterDir, n.Name)
	if out, err := exec.CommandContext(ctx, "cp", "-a", tmpl, data).CombinedOutput(); err != nil {
		return fmt.Errorf("dbxtest: copy template for %s: %v: %s", n.Name, err, out)
	}
	return l.startNew(ctx, clusterDir, n, data, settings)
}

// startReplica takes a base backup of the primary and starts it as a
// streaming standby.
func (l *local) startReplica(ctx context.Context, clusterDir string, primary *localNode, n *Node, settings map[string]string) error {
	data := filepath.Join(clusterDir, n.Name)
	if err := os.Mkdir(data, 0o700); err != nil {
		return fmt.Errorf("dbxtest: %w", err)
	}
	if err := l.chown(data); err != nil {
		return fmt.Errorf("dbxtest: %w", err)
	}
	cmd := l.command("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres",
		"-D", data, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	if out, err := runContext(ctx, cmd); err != nil {
		return fmt.Errorf("dbxtest: pg_basebackup for %s: %v: %s", n.Name, err, out)
	}
	return l.startNew(ctx, clusterDir, n, data, settings)
}

// startNew starts a node for the first time on a free port, trying another
// port when a process outside our locks took the one we picked.
func (l *local) startNew(ctx context.Context, clusterDir string, n *Node, data string, settings map[string]string) error {
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
