package topology

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func findBindir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		if !isFile(filepath.Join(d, "postgres")) {
			return "", &UnavailableError{Reason: "PG_BINDIR=" + d + " holds no postgres binary"}
		}
		return d, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if isFile(filepath.Join(d, "postgres")) && isFile(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "postgres")) && isFile(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", &UnavailableError{Reason: "no Postgres server binaries (looked at PG_BINDIR, pg_config --bindir, /usr/lib/postgresql/*/bin)"}
}

// Binary returns the path of a program of the Postgres installation the
// local backend runs (found as documented in the package doc), such as
// "pgbench" or "psql", so that tools match the server's version.
func Binary(name string) (string, error) {
	dir, err := findBindir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	if !isFile(p) {
		return "", &UnavailableError{Reason: p + " does not exist: install the package that ships " + name}
	}
	return p, nil
}

func versionOf(bindir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(bindir)), 64)
	return v
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
