package budgetcheck_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

// TestHTMLInBrowser renders a report and loads it in headless Chromium: the
// page's script counts the demand bars it laid out, one per database. With
// PGFLEET_REQUIRE_BROWSER set, a missing browser fails the test.
func TestHTMLInBrowser(t *testing.T) {
	t.Parallel()
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		if os.Getenv("PGFLEET_REQUIRE_BROWSER") != "" {
			t.Fatal("PGFLEET_REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)")
		}
		t.Skip("no chromium; set PGFLEET_REQUIRE_BROWSER to make this a failure")
	}
	r := budgetcheck.Analyze(readCase(t, filepath.Join(goldenDir, "cnpg")), goldenOptions)
	var buf bytes.Buffer
	if err := budgetcheck.Write(&buf, r, budgetcheck.HTML); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+page).Output()
	if err != nil {
		t.Fatalf("%s: %v", browser, err)
	}
	m := regexp.MustCompile(`<body[^>]*data-charts="(\d+)"`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the page's script did not run; DOM:\n%s", out)
	}
	if n, _ := strconv.Atoi(string(m[1])); n != len(r.Databases) {
		t.Fatalf("browser laid out %d bars, want %d (one per database)", n, len(r.Databases))
	}
	for _, d := range r.Databases {
		if !bytes.Contains(out, []byte(`data-verdict="`+string(d.Verdict)+`"`)) {
			t.Errorf("database %s (verdict %s) missing from the rendered page", d.ID, d.Verdict)
		}
	}
}
