package topology

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// Ports come from a range below Linux's ephemeral range (32768-60999), so
// client sockets never take them. A port is reserved with a file lock that the
// kernel drops when the process dies: parallel test packages never pick the
// same port, and a killed process frees its ports.
const (
	portLow  = 20000
	portHigh = 32000
)

var errPortInUse = errors.New("topology: port in use")

// ReservePort picks a free host port for a node and holds it until the
// returned lock is closed (or the process dies), so that parallel test
// processes of any backend never pick the same one. Where file locks are
// not supported (see lockNow) the port is only checked to be free.
func ReservePort() (int, io.Closer, error) {
	base, err := baseDir()
	if err != nil {
		return 0, nil, err
	}
	for range 200 {
		port := portLow + rand.IntN(portHigh-portLow)
		f, err := os.OpenFile(filepath.Join(base, "ports", strconv.Itoa(port)+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return 0, nil, fmt.Errorf("topology: reserve port: %w", err)
		}
		if tryLock(f) != nil {
			f.Close()
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			f.Close()
			continue
		}
		ln.Close()
		return port, f, nil
	}
	return 0, nil, fmt.Errorf("topology: no free port in %d-%d after 200 tries", portLow, portHigh)
}

// release is the end of a stopped server (a node or a PgBouncer): it removes
// the server's directory and frees its port. err is the error of stopping
// it, which wins over release's own.
func release(dir string, portLock io.Closer, err error) error {
	if e := os.RemoveAll(dir); e != nil && err == nil {
		err = fmt.Errorf("topology: remove %s: %w", dir, e)
	}
	if portLock != nil {
		portLock.Close()
	}
	return err
}

// baseDir is the parent of every cluster directory and of the port locks,
// shared by every test process of the machine.
func baseDir() (string, error) {
	base := filepath.Join(dataRoot(), "pgfleet-dbxtest")
	if err := os.MkdirAll(filepath.Join(base, "ports"), 0o755); err != nil {
		return "", fmt.Errorf("topology: %w", err)
	}
	// MkdirAll honours the umask; the server user must be able to traverse.
	if err := os.Chmod(base, 0o755); err != nil && !errors.Is(err, os.ErrPermission) {
		return "", fmt.Errorf("topology: %w", err)
	}
	return base, nil
}

// dataRoot is PGFLEET_TEST_DATADIR, else tmpfs (/dev/shm) when writable:
// Postgres on the ext4 disks of these machines is 5-10x slower.
func dataRoot() string {
	if d := os.Getenv("PGFLEET_TEST_DATADIR"); d != "" {
		return d
	}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if f, err := os.CreateTemp("/dev/shm", ".pgfleet-probe-*"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return "/dev/shm"
		}
	}
	return os.TempDir()
}
