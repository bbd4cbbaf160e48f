//go:build unix

package loadgen

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time (user + system) this process has used: the
// client's cost of a round, which other processes' load inflates far less
// than wall-clock throughput.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
