package loadtest

import (
	"testing"

	"go.uber.org/goleak"
)

// Every run must leave no goroutine behind: vegeta's workers, the
// scraper, the transport's connections (closed when a run ends).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
