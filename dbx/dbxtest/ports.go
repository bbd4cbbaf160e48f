package dbxtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Ports come from a range below Linux's ephemeral range (32768-60999), so
// client sockets never take them. A port is reserved with a file lock that the
// kernel drops when the process dies: parallel test packages never pick the
// same port, and a killed process frees its ports.
const (
	portLow  = 20000
	portHigh = 32000
)

var errPortInUse = errors.New("dbxtest: port in use")

func (l *local) reservePort() (int, *os.File, error) {
	for range 200 {
		port := portLow + rand.IntN(portHigh-portLow)
		f, err := os.OpenFile(filepath.Join(l.base, "ports", strconv.Itoa(port)+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return 0, nil, fmt.Errorf("dbxtest: reserve port: %w", err)
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
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
	return 0, nil, fmt.Errorf("dbxtest: no free port in %d-%d after 200 tries", portLow, portHigh)
}
