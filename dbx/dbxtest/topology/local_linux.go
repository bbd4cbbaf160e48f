package topology

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
func newLocal() (Backend, error) {
	localOnce.Do(func() {
		localB, localErr = findLocal()
		if localErr == nil {
			reap(localB.base)
		}
	})
	if localErr != nil {
		return nil, localErr
	}
	return localB, nil
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
	// initdb and postgres refuse to run as root.
	if l.cred, err = serverCredential("the server"); err != nil {
		return nil, err
	}
	l.base, err = baseDir()
	if err != nil {
		return nil, err
	}
	return l, nil
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

func (l *local) Launch(ctx context.Context, topo Topology) (*Cluster, error) {
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
		return nil, fmt.Errorf("topology: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	c := topo.NewCluster("local")
	c.OnClose(func() error { return os.RemoveAll(dir) })
	for _, n := range c.Nodes() {
		port, lock, err := ReservePort()
		if err != nil {
			return c, err
		}
		n.Attach(fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
			&localNode{l: l, name: n.Name, data: filepath.Join(dir, n.Name), log: filepath.Join(dir, n.Name+".log"),
				port: port, portLock: lock, settings: topo.SettingsFor(n.Name)})
	}
	primaryPort := c.Primary.ctl.(*localNode).port
	// Every node is a copy of the template and all start at once: a standby
	// is consistent from its own copy and streams as soon as the primary
	// answers.
	err := Parallel(c.Nodes(), func(n *Node) error {
		ln := n.ctl.(*localNode)
		if err := l.copyTemplate(ctx, tmpl, ln.data); err != nil {
			return fmt.Errorf("topology: copy template for %s: %w", n.Name, err)
		}
		if n.Role == RoleReplica {
			if err := l.makeStandby(ln.data, n.Name, primaryPort); err != nil {
				return err
			}
		}
		return ln.Start(ctx)
	})
	if err != nil {
		return c, err
	}
	return c, Parallel(c.Replicas, func(n *Node) error { return n.WaitStreaming(ctx) })
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
		return fmt.Errorf("topology: %w", err)
	}
	_, err = fmt.Fprintf(auto, "primary_conninfo = '%s'\n", conninfo)
	if cerr := auto.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	signal := filepath.Join(data, "standby.signal")
	if err := os.WriteFile(signal, nil, 0o600); err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	if err := l.chown(signal); err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	return nil
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
