//go:build !unix

package loaderdemo

import (
	"errors"
	"time"
)

// ProcessCPU is not supported on this OS: the busy-server measurement needs
// getrusage.
func ProcessCPU() (time.Duration, error) {
	return 0, errors.New("loaderdemo: process CPU time is not supported on this OS (getrusage is Unix only)")
}
