package dbx_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/dbx"
)

// oddDSNs hold the password s3cret in every form a DSN can take. Each either
// fails to parse or names an unreachable port (127.0.0.1:1).
var oddDSNs = []struct{ name, dsn string }{
	{"spaced key, parse error", "host=h user=u password = s3cret connect_timeout=abc"},
	{"upper-case key", "host=127.0.0.1 port=1 user=u PASSWORD=s3cret"},
	{"upper-case key, parse error", "host=h PASSWORD=s3cret connect_timeout=abc"},
	{"percent-encoded key", "postgres://u@127.0.0.1:1/db?pass%77ord=s3cret&connect_timeout=abc"},
	{"percent-encoded key, unreachable", "postgres://u@127.0.0.1:1/db?pass%77ord=s3cret&sslmode=disable"},
	{"quoted with space", "host=127.0.0.1 port=1 password='my s3cret' connect_timeout=x"},
	{"quoted with escaped quote", `host=127.0.0.1 port=1 password='it\'s s3cret' connect_timeout=x`},
	{"quoted spaced key", `host=h password = 'it\'s s3cret' port=notaport`},
	{"url userinfo, parse error", "postgres://u:s3cret@127.0.0.1:notaport/db"},
	{"url userinfo, unreachable", "postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=1"},
	{"url userinfo escaped", "postgres://u:s3cret%40x@127.0.0.1:1/db?sslmode=disable&pool_max_conns=x"},
	{"url query password", "postgres://127.0.0.1:1/db?password=s3cret&connect_timeout=abc"},
	{"upper-case scheme", "POSTGRES://user:s3cret@127.0.0.1:1/db?sslmode=disable"},
	{"upper-case scheme, query", "PostgreSQL://127.0.0.1:1/db?PASSWORD=s3cret&x=y"},
	{"jdbc", "jdbc:postgresql://127.0.0.1:1/db?user=u&password=s3cret"},
	{"ado.net", "Host=127.0.0.1;Port=1;Password=s3cret;"},
	{"ado.net lower case", "host=127.0.0.1;password=s3cret;port=1"},
	{"sslpassword", "host=127.0.0.1 port=1 sslpassword=s3cret sslmode=disable connect_timeout=1"},
}

// No error from ParseConfig or Open may carry the password, whatever the
// DSN's form. Before: pgx's parse error printed "password = s3cret",
// "PASSWORD=s3cret" and "?pass%77ord=s3cret", and an upper-case scheme was
// sent to the server as text it echoed back.
func TestNoSecretInAnyError(t *testing.T) {
	t.Parallel()
	for _, tc := range oddDSNs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var errs []error
			cfg, err := dbx.ParseConfig(tc.dsn)
			errs = append(errs, err)
			if err == nil {
				cfg.Logger = slog.New(slog.DiscardHandler)
				cfg.ConnectTimeout = time.Second
				_, err = dbx.OpenConfig(ctx, cfg)
				if err == nil {
					t.Fatalf("Open(%s) succeeded against an unreachable port", tc.name)
				}
				errs = append(errs, err)
			}
			_, err = dbx.Open(ctx, tc.dsn)
			errs = append(errs, err)
			for _, err := range errs {
				if err != nil && strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error carries the password: %v", err)
				}
				if err != nil && !strings.HasPrefix(err.Error(), "dbx: ") {
					t.Errorf("error without the package prefix: %v", err)
				}
			}
		})
	}
}

// Errors say what to change, without echoing the value.
func TestOddDSNsAreExplained(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]string{
		"jdbc:postgresql://h/db?password=s3cret": "drop the jdbc: prefix",
		"host=h PASSWORD=s3cret":                 `did you mean "password"?`,
		"Host=h;Password=s3cret;":                `did you mean "host"?`,
		"host=h postgre://u:s3cret@h/db=x":       "separated by spaces",
		"POSTGRES://h/db?application_name=a":     "",
	} {
		_, err := dbx.ParseConfig(dsn)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v, want the upper-case scheme read as a URL", dsn, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want it to say %q", dsn, err, want)
		}
	}
	cfg, err := dbx.ParseConfig("POSTGRES://u:s3cret@db.internal:6543/shop")
	if err != nil || cfg.Pool.ConnConfig.Host != "db.internal" || cfg.Pool.ConnConfig.Password != "s3cret" {
		t.Fatalf("upper-case scheme: %v, %+v", err, cfg)
	}
}

// A Config.Pool not built by pgxpool.ParseConfig makes pgxpool panic; dbx
// answers with an error instead.
func TestHandBuiltPoolIsAnErrorNotAPanic(t *testing.T) {
	t.Parallel()
	pc, err := dbx.ParseConfig("host=127.0.0.1 port=1 sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	hand := *pc.Pool
	hand.ConnConfig = nil
	_, err = dbx.OpenConfig(context.Background(), &dbx.Config{Pool: &hand, Verify: dbx.VerifyOff})
	if err == nil || !strings.Contains(err.Error(), "pgxpool.ParseConfig") {
		t.Fatalf("Pool without ConnConfig: %v", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Fatal("unexpected")
	}
}

// A real server that asks for a password (scram for every role but the
// test's superuser) refuses s3cret; neither its FATAL nor dbx's error may
// carry it, whatever the DSN's form.
func TestNoSecretWhenAuthFails(t *testing.T) {
	dir, err := os.MkdirTemp("", "dbx-hba-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	hba := filepath.Join(dir, "pg_hba.conf")
	conf := "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(hba, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // the server runs as another user
		t.Fatal(err)
	}
	b := setup(t, map[string]string{"hba_file": hba})
	admin := b.open(t, nil)
	if _, err := admin.Exec(b.ctx, `CREATE ROLE app LOGIN PASSWORD 'right-one'`); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(b.cluster.Primary.DSN())
	if err != nil {
		t.Fatal(err)
	}
	host, port, db := u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/")
	for _, dsn := range []string{
		"postgres://app:s3cret@" + host + ":" + port + "/" + db + "?sslmode=disable",
		"POSTGRES://app:s3cret@" + host + ":" + port + "/" + db + "?sslmode=disable",
		"postgresql://app@" + host + ":" + port + "/" + db + "?sslmode=disable&pass%77ord=s3cret",
		"host=" + host + " port=" + port + " dbname=" + db + " user=app sslmode=disable password = 's3cret x'",
	} {
		for _, verify := range []dbx.VerifyPolicy{dbx.VerifyWarn, dbx.VerifyOff} {
			cfg, err := dbx.ParseConfig(dsn)
			if err != nil {
				t.Fatalf("%s: %v", dbxRedact(dsn), err)
			}
			cfg.Verify, cfg.Logger = verify, slog.New(slog.DiscardHandler)
			c, err := dbx.OpenConfig(b.ctx, cfg)
			if err == nil { // VerifyOff connects lazily: the first query fails
				_, err = c.Exec(b.ctx, `SELECT 1`)
				c.Close()
			}
			if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
				t.Fatalf("%s: %v, want the server's refusal", dbxRedact(dsn), err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error carries the password: %v", err)
			}
		}
	}
}

func dbxRedact(s string) string { return strings.ReplaceAll(s, "s3cret", "xxxxx") }
