package dbx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/dbx"
)

func TestParseConfigHonoursPoolKeys(t *testing.T) {
	t.Parallel()
	cfg, err := dbx.ParseConfig("postgres://u:s3cret@127.0.0.1:1/db?pool_max_conns=7&pool_max_conn_lifetime=10m&sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != 7 || cfg.MaxConnLifetime != 10*time.Minute {
		t.Fatalf("parsed %d %s", cfg.MaxConns, cfg.MaxConnLifetime)
	}
	plain, err := dbx.ParseConfig("host=127.0.0.1 port=1 user=u sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if plain.MaxConns != 0 {
		t.Fatalf("MaxConns without pool_max_conns = %d, want 0 (dbx's default, never NumCPU)", plain.MaxConns)
	}
}

func TestBadConfigNamesTheFieldAndHidesThePassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		mutate func(*dbx.Config)
		want   string
	}{
		{func(c *dbx.Config) { c.MaxConns = -1 }, "Config.MaxConns = -1"},
		{func(c *dbx.Config) { c.Share = 2 }, "Config.Share = 2"},
		{func(c *dbx.Config) { c.Share = 0.5 }, "Config.Fleet"},
		{func(c *dbx.Config) { c.MinConns = 9; c.MaxConns = 2 }, "Config.MinConns = 9"},
		{func(c *dbx.Config) { c.Verify = 7 }, "Config.Verify"},
	} {
		cfg, err := dbx.ParseConfig("postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		tc.mutate(cfg)
		_, err = dbx.OpenConfig(ctx, cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to mention %q", err, tc.want)
		}
	}
	// A dead server: the error names the cause without the password.
	cfg, _ := dbx.ParseConfig("postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=1")
	_, err := dbx.OpenConfig(ctx, cfg)
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "dbx: connect to primary") {
		t.Fatalf("dead server: %v", err)
	}
	if _, err := dbx.ParseConfig("postgres://u:s3cret@127.0.0.1:1/db?pool_max_conns=x"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("bad DSN: %v", err)
	}
}

// pool_max_conns = 10 is valid libpq spacing and pgx reads 10; dbx's own key
// scanner did not see the key and fell back to 0, then to the default 5.
func TestParseConfigReadsWhatPgxParsed(t *testing.T) {
	t.Parallel()
	cfg, err := dbx.ParseConfig("host=127.0.0.1 pool_max_conns = 10 pool_min_idle_conns=2 pool_max_conn_lifetime=1h pool_ping_timeout=3s sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != 10 {
		t.Errorf("MaxConns = %d, want 10 (pool_max_conns = 10)", cfg.MaxConns)
	}
	// 1h is also pgxpool's default: a key named in the DSN counts even then.
	if cfg.MaxConnLifetime != time.Hour {
		t.Errorf("MaxConnLifetime = %s, want the DSN's 1h", cfg.MaxConnLifetime)
	}
	// What dbx does not own stays on pgx's Config, reachable.
	if cfg.Pool == nil || cfg.Pool.MinIdleConns != 2 || cfg.Pool.PingTimeout != 3*time.Second {
		t.Errorf("Pool = %+v, want pgx's parse with MinIdleConns 2 and PingTimeout 3s", cfg.Pool)
	}
}
