package topology

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sys/unix"
)

// localNode is a postmaster run by the local backend.
type localNode struct {
	l        *local
	name     string
	data     string
	log      string
	port     int
	portLock io.Closer
	settings map[string]string

	mu     sync.Mutex
	pid    int             // postmaster pid, also its process group
	exited <-chan struct{} // closed when the postmaster is gone; nil before the first start
	paused bool
	gone   bool // destroyed
}

func (n *localNode) args() []string {
	args := []string{"-D", n.data, "-p", strconv.Itoa(n.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="}
	keys := make([]string, 0, len(n.settings))
	for k := range n.settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+n.settings[k])
	}
	return args
}

// start runs the postmaster and waits until it accepts connections.
func (n *localNode) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.gone {
		n.mu.Unlock()
		return fmt.Errorf("topology: %s was destroyed", n.name)
	}
	if n.running() {
		n.mu.Unlock()
		return fmt.Errorf("topology: %s is already running", n.name)
	}
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("topology: %w", err)
	}
	logStart, _ := logf.Seek(0, 2)
	cmd := n.l.command("postgres", n.args()...)
	// Own process group: a Ctrl-C to `go test` reaches the test, not the
	// servers, which the test then stops in order.
	// Parent-death signal: the server shuts down (SIGQUIT, immediate) when the
	// test process dies, even by SIGKILL.
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	exited, err := spawn(cmd, logf)
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("topology: start %s: %w", n.name, err)
	}
	n.pid, n.exited, n.paused = cmd.Process.Pid, exited, false
	n.mu.Unlock()
	return n.waitReady(ctx, logStart)
}

// running reports whether the postmaster process is alive. Callers hold mu.
func (n *localNode) running() bool {
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// waitReady waits until the server accepts connections. It watches the
// status line that the postmaster keeps in postmaster.pid (as pg_ctl does)
// and connects once it says "ready" (or "standby"): every connection tried
// earlier would cost the starting server a fork to refuse it.
func (n *localNode) waitReady(ctx context.Context, logStart int64) error {
	cfg, err := pgconn.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=5", n.port))
	if err != nil {
		return err
	}
	n.mu.Lock()
	pid := n.pid
	n.mu.Unlock()
	for {
		if n.statusReady(pid) {
			conn, err := pgconn.ConnectConfig(ctx, cfg)
			if err == nil {
				conn.Close(ctx)
				return nil
			}
		}
		select {
		case <-n.exited:
			tail := n.logSince(logStart)
			if strings.Contains(tail, "could not bind") || strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("%w: %d: %s", errPortInUse, n.port, tail)
			}
			return fmt.Errorf("topology: %s exited during startup; its log says:\n%s", n.name, tail)
		case <-ctx.Done():
			return fmt.Errorf("topology: %s not ready on port %d: %w; its log says:\n%s", n.name, n.port, ctx.Err(), n.logSince(logStart))
		case <-time.After(time.Millisecond):
		}
	}
}

// statusReady reads postmaster.pid: line 1 must be this postmaster (a killed
// one leaves its file behind) and line 8 its status.
func (n *localNode) statusReady(pid int) bool {
	b, err := os.ReadFile(n.data + "/postmaster.pid")
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 8 || strings.TrimSpace(lines[0]) != strconv.Itoa(pid) {
		return false
	}
	status := strings.TrimSpace(lines[7])
	return status == "ready" || status == "standby"
}

func (n *localNode) logSince(offset int64) string {
	b, err := os.ReadFile(n.log)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	s := strings.TrimSpace(string(b[offset:]))
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}

// signalAll signals the postmaster and every process it forked. Postgres
// children call setsid(), so the postmaster's process group alone would miss
// them. The postmaster goes first on stop (it can fork no more) and last on
// continue.
func (n *localNode) signalAll(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running() {
		return fmt.Errorf("topology: %s is not running", n.name)
	}
	if err := signalTree(n.pid, sig); err != nil {
		return fmt.Errorf("topology: signal %s: %w", n.name, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		n.paused = true
	case syscall.SIGCONT:
		n.paused = false
	}
	return nil
}

// signalTree signals a postmaster and its children.
func signalTree(pid int, sig syscall.Signal) error {
	_, err := signalTreeKids(pid, sig)
	return err
}

// signalTreeKids is signalTree, returning the children it signalled. The
// postmaster is stopped before its children are listed (a stopped
// postmaster cannot fork one that the list would miss), and they are listed
// before it dies: a dead postmaster's children are reparented at once, and a
// child missed that way keeps the shared memory attached, so that the next
// start fails ("pre-existing shared memory block is still in use").
func signalTreeKids(pid int, sig syscall.Signal) ([]int, error) {
	if sig != syscall.SIGCONT {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	kids := children(pid)
	if sig != syscall.SIGCONT {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return nil, err
		}
	}
	for _, child := range kids {
		_ = syscall.Kill(child, sig)
	}
	if sig == syscall.SIGCONT {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return nil, err
		}
	}
	return kids, nil
}

// children lists the processes whose parent is pid, from /proc.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// wait waits for the postmaster to exit.
func (n *localNode) wait(ctx context.Context) error {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	return waitExited(ctx, exited, n.name)
}

func (n *localNode) Stop(ctx context.Context) error {
	return n.shutdown(ctx, syscall.SIGINT)
}

// shutdown resumes a paused node (a stopped process does not act on
// signals), sends sig to the postmaster and waits for it.
func (n *localNode) shutdown(ctx context.Context, sig syscall.Signal) error {
	n.mu.Lock()
	paused, pid := n.paused, n.pid
	if !n.running() {
		n.mu.Unlock()
		return fmt.Errorf("topology: %s is not running", n.name)
	}
	n.mu.Unlock()
	if paused {
		if err := n.Resume(); err != nil {
			return err
		}
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("topology: stop %s: %w", n.name, err)
	}
	return n.wait(ctx)
}

func (n *localNode) Kill() error {
	n.mu.Lock()
	if !n.running() {
		n.mu.Unlock()
		return fmt.Errorf("topology: %s is not running", n.name)
	}
	kids, err := signalTreeKids(n.pid, syscall.SIGKILL)
	n.mu.Unlock()
	if err != nil {
		return fmt.Errorf("topology: signal %s: %w", n.name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.wait(ctx); err != nil {
		return err
	}
	// Start must find no process of the old server attached to its shared
	// memory: wait until the children are gone too (a zombie has let go).
	for _, kid := range kids {
		for alive(kid) {
			if ctx.Err() != nil {
				return fmt.Errorf("topology: %s's process %d outlived SIGKILL: %w", n.name, kid, ctx.Err())
			}
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

func (n *localNode) Pause() error  { return n.signalAll(syscall.SIGSTOP) }
func (n *localNode) Resume() error { return n.signalAll(syscall.SIGCONT) }

// destroy stops the node at once, frees its shared memory and port, and
// removes its data.
func (n *localNode) Destroy() error {
	n.mu.Lock()
	if n.gone {
		n.mu.Unlock()
		return nil
	}
	n.gone = true
	alive := n.running()
	n.mu.Unlock()
	var err error
	if alive {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if e := n.shutdown(ctx, syscall.SIGQUIT); e != nil {
			_ = n.signalAll(syscall.SIGKILL)
			ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
			err = n.wait(ctx2)
			cancel2()
		}
		cancel()
	}
	removeSharedMemory(n.data)
	return release(n.data, n.portLock, err)
}

// killGroup kills the process group of the postmaster recorded in
// postmaster.pid, if that postmaster still runs on this data directory.
func killGroup(data string) bool {
	pid := postmasterPID(data)
	if pid <= 0 || !isPostmasterOf(pid, data) {
		return false
	}
	_ = signalTree(pid, syscall.SIGCONT)
	_ = signalTree(pid, syscall.SIGKILL)
	return true
}

// postmasterPID reads the first line of postmaster.pid, 0 if there is none.
func postmasterPID(data string) int {
	b, err := os.ReadFile(data + "/postmaster.pid")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

// isPostmasterOf checks the process's command line: only a postmaster keeps
// "-D <data>" there (backends rewrite theirs), so a reused pid never matches.
func isPostmasterOf(pid int, data string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(b), "\x00"+data+"\x00")
}

// removeSharedMemory removes the System V segment that a killed postmaster
// leaves behind (line 7 of postmaster.pid: "key id"); a clean shutdown has
// already removed it.
func removeSharedMemory(data string) {
	b, err := os.ReadFile(data + "/postmaster.pid")
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 7 {
		return
	}
	f := strings.Fields(lines[6])
	if len(f) != 2 {
		return
	}
	key, err1 := strconv.ParseInt(f[0], 10, 64)
	id, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return
	}
	// The id may have been reused since: remove only an unattached segment
	// with the recorded key.
	var desc unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &desc); err != nil {
		return
	}
	if int64(desc.Perm.Key) == key && desc.Nattch == 0 {
		_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}
