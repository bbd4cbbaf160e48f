package budgetcheck

import (
	"net/url"
	"sort"
	"strings"
)

// dsn is a parsed Postgres connection string: URL ("postgres://",
// "postgresql+psycopg2://", "jdbc:postgresql://"), libpq keywords
// ("host=db dbname=app") or ADO.NET ("Host=db;Maximum Pool Size=20").
type dsn struct {
	host   string
	port   string
	dbname string
	params map[string]string // lower-cased keys
}

// parseDSN recognises a Postgres connection string; ok is false for any
// other value.
func parseDSN(s string) (d dsn, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 4096 {
		return d, false
	}
	lower := strings.ToLower(s)
	if rest, isJDBC := strings.CutPrefix(lower, "jdbc:"); isJDBC {
		s, lower = s[5:], rest
	}
	if i := strings.Index(lower, "://"); i > 0 {
		scheme := lower[:i]
		if !strings.HasPrefix(scheme, "postgres") {
			return d, false
		}
		u, err := url.Parse(s)
		if err != nil {
			return d, false
		}
		d = dsn{host: u.Hostname(), port: u.Port(), dbname: strings.TrimPrefix(u.Path, "/"), params: map[string]string{}}
		for k, v := range u.Query() {
			if len(v) > 0 {
				d.params[strings.ToLower(k)] = v[len(v)-1]
			}
		}
		// libpq allows several hosts; the first is the one to resolve.
		if h := d.params["host"]; d.host == "" && h != "" {
			d.host = strings.Split(h, ",")[0]
		}
		return d, true
	}
	sep := " "
	if strings.Contains(s, ";") {
		sep = ";"
	}
	d.params = map[string]string{}
	for _, f := range strings.Split(s, sep) {
		k, v, found := strings.Cut(f, "=")
		if !found {
			continue
		}
		d.params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `'`)
	}
	d.host = firstOf(d.params, "host", "server")
	d.port = firstOf(d.params, "port")
	d.dbname = firstOf(d.params, "dbname", "database")
	if d.host == "" {
		return d, false
	}
	d.host = strings.Split(d.host, ",")[0]
	return d, true
}

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

// redacted renders the DSN without user or password: host, port,
// database and the parameters that are not credentials.
func (d dsn) redacted() string {
	var b strings.Builder
	b.WriteString("postgres://")
	b.WriteString(d.host)
	if d.port != "" {
		b.WriteString(":" + d.port)
	}
	if d.dbname != "" {
		b.WriteString("/" + d.dbname)
	}
	keys := make([]string, 0, len(d.params))
	for k := range d.params {
		switch k {
		case "password", "pwd", "psw", "user", "username", "user name", "user id", "userid", "uid",
			"host", "server", "port", "dbname", "database", "sslkey", "sslpassword", "passfile":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(d.params[k]))
	}
	return b.String()
}
