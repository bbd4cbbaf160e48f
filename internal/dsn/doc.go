// Package dsn hides the secrets in Postgres connection strings so that they
// can be put in errors, logs and CLI output.
//
// Connection strings reach pgfleet from flags, environment variables and
// config files, and every "cannot connect to X" message wants to name X. A
// DSN printed verbatim leaks its password into logs, CI output and bug
// reports, so anything that prints a DSN goes through [Redact] first:
//
//	err := migrate(ctx, url)
//	if err != nil {
//		return fmt.Errorf("migrate %s: %w", dsn.Redact(url), err)
//	}
//
// [Redact] understands both forms that pgx and libpq accept, URLs
// (postgres://user:secret@host/db?sslpassword=x) and key=value strings
// (host=h user=u password='se cret'), and errs on the side of hiding too much
// when the input is malformed.
package dsn
