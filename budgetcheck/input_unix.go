//go:build unix

package budgetcheck

import (
	"os"
	"syscall"
)

// openStream opens a non-regular input without blocking: open(2) of a FIFO
// with no writer would otherwise wait forever, before any timeout could
// apply. Non-blocking, the file goes to Go's poller and honours read
// deadlines.
func openStream(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
