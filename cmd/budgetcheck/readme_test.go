package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEExamples runs every budgetcheck command of the README's shell
// blocks in-process, from the repository root, and checks the exit code the
// README states ("exits 1", "exit 1") or implies (0 or 1: never a usage
// error), and that the first example prints the table the README shows.
func TestREADMEExamples(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	cmdLine := regexp.MustCompile(`^(?:cat (\S+) \| )?go run \./cmd/budgetcheck ([^#>]*?)\s*(?:>\s*\S+\s*)?(?:#\s*(.*))?$`)
	ran, tableChecked := 0, false
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllSubmatch(readme, -1) {
		for _, line := range strings.Split(string(block[1]), "\n") {
			m := cmdLine.FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				continue
			}
			var stdin []byte
			if m[1] != "" {
				if stdin, err = os.ReadFile(m[1]); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), strings.Fields(m[2]), bytes.NewReader(stdin), &stdout, &stderr)
			ran++
			switch comment := m[3]; {
			case strings.Contains(comment, "exit 1"), strings.Contains(comment, "exits 1"):
				if code != 1 {
					t.Errorf("%s: exit %d, the README says 1\n%s", line, code, stderr.String())
				}
			case code == 2:
				t.Errorf("%s: exit 2 (usage or input error)\n%s", line, stderr.String())
			}
			if strings.HasSuffix(m[2], "hpa-surge/input.yaml") && ran == 1 {
				tableChecked = true
				for _, want := range []string{
					"default/StatefulSet/db (postgres): OVER",
					"worst case 560 of usable 97 (577%)",
					"default/Deployment/orders/app   12    3      3      12    540     2",
				} {
					if !strings.Contains(stdout.String(), want) || !bytes.Contains(readme, []byte(want)) {
						t.Errorf("README and output disagree on %q:\n%s", want, stdout.String())
					}
				}
			}
		}
	}
	if ran != 9 {
		t.Fatalf("ran %d README examples, want the 9 of the budgetcheck section", ran)
	}
	if !tableChecked {
		t.Fatal("the README's first budgetcheck example is no longer the hpa-surge table this test compares")
	}
}
