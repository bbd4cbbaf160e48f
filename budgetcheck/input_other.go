//go:build !unix

package budgetcheck

import "os"

// openStream opens a non-regular input; outside Unix there are no FIFOs
// whose open blocks, and the read is still bounded by the timeout.
func openStream(path string) (*os.File, error) {
	return os.Open(path)
}
