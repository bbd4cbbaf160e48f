package budgetcheck_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// TestReadSizeLimit: a file or standard input over Options.MaxFileBytes is
// an InputError naming the flag that raises it; a regular file is refused
// from its size, before it is read.
func TestReadSizeLimit(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("# padding\n", 200)
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := budgetcheck.Options{MaxFileBytes: 1000}
	for _, args := range [][]string{{path}, {"-"}} {
		_, err := budgetcheck.Run(context.Background(), opts, strings.NewReader(big), args...)
		if !budgetcheck.IsInputError(err) || !strings.Contains(err.Error(), "--max-file-bytes") {
			t.Errorf("Run(%v) err = %v, want an InputError naming --max-file-bytes", args, err)
		}
	}
}
