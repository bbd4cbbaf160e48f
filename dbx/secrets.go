package dbx

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/internal/dsn"
)

// A DSN's password must never reach an error or a log line, whatever the
// DSN's form. dbx prints DSNs only through dsn.Redact, and it passes every
// error that pgx or the server may have built from DSN text (parse errors,
// connect errors) through scrub, which hides the secret values themselves:
// pgx's own redaction misses spaced, upper-case and percent-encoded keys.

// secretFreeError is an error whose message had a DSN's secrets removed.
// Unwrap still reaches the original (for errors.As on *pgconn.PgError and
// the like); print this error, not what it wraps.
type secretFreeError struct {
	msg string
	err error
}

func (e *secretFreeError) Error() string { return e.msg }
func (e *secretFreeError) Unwrap() error { return e.err }

// scrub returns err with every secret hidden from its message, or err itself
// when its message holds none.
func scrub(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	msg := err.Error()
	if clean := dsn.Scrub(msg, secrets); clean != msg {
		return &secretFreeError{msg: clean, err: err}
	}
	return err
}

// secretsOf lists the secrets an error about this configuration may quote:
// those written in the DSN, in every encoding, and the password pgx resolved
// (from the DSN, PGPASSWORD or a passfile).
func secretsOf(c Config) []string {
	secrets := dsn.Secrets(c.DSN)
	if cc := c.Pool.ConnConfig; cc.Password != "" {
		secrets = append(secrets, cc.Password)
	}
	return secrets
}

// parsePool is pgxpool.ParseConfig with two guards. A URL's scheme is
// matched case-insensitively (pgx takes "POSTGRES://u:pw@h" for key=value
// text and would send it to the server, which echoes it back in a FATAL). A
// key=value key that is no parameter name (a mistyped URL, a JDBC or ADO.NET
// string), or a known key in upper case (PASSWORD=x would travel as a
// server setting, in clear), is refused.
func parsePool(connString string) (*pgxpool.Config, error) {
	s := normaliseScheme(connString)
	fail := func(why string) error {
		return fmt.Errorf("dbx: parse DSN %s: %s", dsn.Redact(s), why)
	}
	if len(s) >= 5 && strings.EqualFold(s[:5], "jdbc:") {
		return nil, fail("a JDBC URL: drop the jdbc: prefix (postgres://user@host:5432/db?...)")
	}
	pc, err := pgxpool.ParseConfig(s)
	if err != nil {
		return nil, parseError(s, err)
	}
	for key := range pc.ConnConfig.RuntimeParams {
		if !isParamName(key) {
			return nil, fail("it holds a key that is no parameter name: a URL must start with postgres:// or postgresql://, and key=value pairs are separated by spaces, not ';'")
		}
		if lower := strings.ToLower(key); lower != key && libpqKeys[lower] {
			return nil, fail(fmt.Sprintf("key %q: connection parameter names are lower case: did you mean %q?", key, lower))
		}
	}
	return pc, nil
}

// parseError rebuilds pgx's parse error without its copy of the DSN, which
// pgx redacts only in the common forms: the DSN is printed through
// dsn.Redact, the reason scrubbed of the DSN's secrets. It does not wrap
// pgx's error, whose message would still hold the DSN.
func parseError(s string, err error) error {
	msg := err.Error()
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && strings.HasPrefix(msg, "cannot parse `") {
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			msg = msg[i+len("`: "):]
		}
	}
	return &secretFreeError{msg: "dbx: parse DSN " + dsn.Redact(s) + ": " + dsn.Scrub(msg, dsn.Secrets(s))}
}

// normaliseScheme lower-cases a postgres:// or postgresql:// scheme.
func normaliseScheme(s string) string {
	i := strings.Index(s, "://")
	if i <= 0 {
		return s
	}
	if scheme := s[:i]; strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql") {
		return strings.ToLower(scheme) + s[i:]
	}
	return s
}

// isParamName reports whether key can name a server setting (letters,
// digits, '_' and the '.' of custom settings).
func isParamName(key string) bool {
	if key == "" {
		return false
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// libpqKeys are connection keys that pgx reads only in lower case; in upper
// case they would reach the server as settings.
var libpqKeys = map[string]bool{
	"host": true, "hostaddr": true, "port": true, "user": true, "password": true, "sslpassword": true,
	"dbname": true, "database": true, "sslmode": true, "sslcert": true, "sslkey": true, "sslrootcert": true,
	"connect_timeout": true, "application_name": true, "target_session_attrs": true, "options": true,
	"passfile": true, "service": true, "servicefile": true, "username": true, "pwd": true, "server": true,
}
