package dbx

import (
	"strings"
	"testing"
	"time"
)

// Config resolution is pure logic: no server, runs under -short.

func TestMaxConnsBeyondInt32IsRefused(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig("host=127.0.0.1 port=1 user=u sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1<<32 + 1 // was accepted: gate limit 4294967297, pgxpool's int32 limit 1
	_, err = cfg.withDefaults()
	if err == nil || !strings.Contains(err.Error(), "Config.MaxConns = 4294967297") || !strings.Contains(err.Error(), "int32") {
		t.Fatalf("MaxConns 1<<32+1: %v, want an error naming the field and pgxpool's int32 limit", err)
	}
	cfg.MaxConns, cfg.MaxWaiters = 5, 1<<40
	if _, err := cfg.withDefaults(); err == nil || !strings.Contains(err.Error(), "Config.MaxWaiters") {
		t.Fatalf("MaxWaiters 1<<40: %v", err)
	}
}

func TestEffectiveWaitersAndOperationTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dsn       string
		mutate    func(*Config)
		waiters   int
		operation time.Duration
	}{
		{"host=h pool_max_conns=10", nil, 40, DefaultStatementTimeout + DefaultOperationMargin},
		{"host=h", func(c *Config) { c.MaxWaiters = -1 }, -1, 35 * time.Second},
		{"host=h", func(c *Config) { c.StatementTimeout = -1 }, 20, -1},
		{"host=h statement_timeout=2s", nil, 20, 7 * time.Second},
		{"host=h statement_timeout=1500", nil, 20, 6500 * time.Millisecond},
		{"host=h statement_timeout=0", nil, 20, -1},
		{"host=h statement_timeout=2min", func(c *Config) { c.OperationTimeout = time.Second }, 20, time.Second},
	} {
		cfg, err := ParseConfig(tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		if tc.mutate != nil {
			tc.mutate(cfg)
		}
		c, err := cfg.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		c.resolveWaiters()
		if c.MaxWaiters != tc.waiters || c.OperationTimeout != tc.operation {
			t.Errorf("%q: MaxWaiters %d, OperationTimeout %s; want %d, %s", tc.dsn, c.MaxWaiters, c.OperationTimeout, tc.waiters, tc.operation)
		}
	}
}

func TestParseServerDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"250": 250 * time.Millisecond, "3s": 3 * time.Second, "1min": time.Minute, " 2 h ": 2 * time.Hour,
		"1.5s": 1500 * time.Millisecond, "100us": 100 * time.Microsecond, "1d": 24 * time.Hour,
	} {
		if got, ok := parseServerDuration(in); !ok || got != want {
			t.Errorf("parseServerDuration(%q) = %s, %v; want %s", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "abc", "5 weeks", "-1s", "1e300d"} {
		if _, ok := parseServerDuration(bad); ok {
			t.Errorf("parseServerDuration(%q) accepted", bad)
		}
	}
}
