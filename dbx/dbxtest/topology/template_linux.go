package topology

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

var initdbArgs = []string{"-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C", "--wal-segsize=1"}

// template returns a data directory made by initdb, shared by every test
// process of the machine: initdb costs ~1.5 s, a copy ~60 ms. 1 MiB WAL segments
// (instead of 16) make the copy a third smaller. It is built
// under a file lock and published by rename, so concurrent test packages
// build it once and never see half of it.
func (l *local) template(ctx context.Context) (string, error) {
	sum := sha256.Sum256([]byte(l.bindir + "\x00" + l.version + "\x00" + strings.Join(initdbArgs, " ") + "\x00low-limits"))
	dir := filepath.Join(l.base, "template-"+hex.EncodeToString(sum[:6]))
	if isFile(filepath.Join(dir, "PG_VERSION")) {
		return dir, nil
	}
	lock, err := os.OpenFile(filepath.Join(l.base, "template.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("topology: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("topology: lock template: %w", err)
	}
	if isFile(filepath.Join(dir, "PG_VERSION")) {
		return dir, nil
	}
	tmp := dir + ".building"
	_ = os.RemoveAll(tmp)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return "", fmt.Errorf("topology: %w", err)
	}
	if err := l.chown(tmp); err != nil {
		return "", fmt.Errorf("topology: %w", err)
	}
	cmd := l.command("initdb", append([]string{"-D", filepath.Join(tmp, "data")}, initdbArgs...)...)
	if out, err := runContext(ctx, cmd); err != nil {
		return "", fmt.Errorf("topology: initdb: %v: %s", err, out)
	}
	// Replicas start from the template's shutdown checkpoint, and a standby
	// refuses to run with max_connections (and a few others) below the values
	// recorded there. Record the lowest values once, in single-user mode, so
	// that a standby is held only to its primary's real settings, which the
	// primary WAL-logs when it starts.
	low := l.command("postgres", "--single", "-D", filepath.Join(tmp, "data"),
		"-c", "max_connections=1", "-c", "superuser_reserved_connections=0", "-c", "max_wal_senders=0",
		"-c", "max_worker_processes=0", "-c", "max_prepared_transactions=0", "-c", "max_locks_per_transaction=10",
		"postgres")
	low.Stdin = strings.NewReader("")
	if out, err := runContext(ctx, low); err != nil {
		return "", fmt.Errorf("topology: record low limits in the template: %v: %s", err, out)
	}
	// The template is the data directory itself; its parent only made the
	// rename atomic.
	if err := os.Rename(filepath.Join(tmp, "data"), dir); err != nil {
		return "", fmt.Errorf("topology: %w", err)
	}
	_ = os.RemoveAll(tmp)
	return dir, nil
}
