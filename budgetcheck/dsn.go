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
	// secret names the Secret key the string came from ("" if none): then
	// neither its host nor any parameter may be printed.
	secret string
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
	params, ok := parseLibpq(s)
	if !ok {
		if params, ok = parseADO(s); !ok {
			return d, false
		}
	}
	d.params = params
	d.host = firstOf(d.params, "host", "server")
	d.port = firstOf(d.params, "port")
	d.dbname = firstOf(d.params, "dbname", "database")
	if d.host == "" {
		return d, false
	}
	d.host = strings.Split(d.host, ",")[0]
	// A host with blanks, quotes, "=" or ";" is a string read the wrong way
	// (and may hold a password): not a DSN, rather than a database ID
	// that prints it.
	if strings.ContainsAny(d.host, " \t\r\n='\";") {
		return d, false
	}
	return d, true
}

// parseLibpq reads libpq's keyword/value form as libpq does: pairs
// separated by whitespace, spaces allowed around "=", values in single
// quotes or with backslash escapes. A ";" is part of a value here (a
// password may hold one), so the string is libpq's only when every keyword
// is lower-case, as libpq requires, and the host holds no ";": otherwise
// "host=db;port=5432" is ADO.NET's form, which [parseADO] reads.
func parseLibpq(s string) (map[string]string, bool) {
	params := map[string]string{}
	i := 0
	skipSpace := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	for {
		skipSpace()
		if i == len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		skipSpace()
		if i == len(s) || s[i] != '=' || !isLibpqKeyword(key) {
			return nil, false
		}
		i++
		skipSpace()
		var v strings.Builder
		if i < len(s) && s[i] == '\'' {
			for i++; ; i++ {
				if i == len(s) {
					return nil, false // unterminated quote
				}
				if s[i] == '\\' && i+1 < len(s) {
					i++
				} else if s[i] == '\'' {
					i++
					break
				}
				v.WriteByte(s[i])
			}
		} else {
			for ; i < len(s) && !isSpace(s[i]); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
			}
		}
		params[key] = v.String()
	}
	if len(params) == 0 || strings.Contains(params["host"], ";") {
		return nil, false
	}
	return params, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isLibpqKeyword(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// parseADO reads ADO.NET's form (Npgsql): "Key=Value" pairs separated by
// ";", keys case-insensitive and possibly with spaces, values optionally in
// double or single quotes (a doubled quote escapes one), so that a quoted
// password with ";" in it stays one value.
func parseADO(s string) (map[string]string, bool) {
	if !strings.Contains(s, ";") && !strings.Contains(s, "=") {
		return nil, false
	}
	params := map[string]string{}
	for s != "" {
		k, rest, found := strings.Cut(s, "=")
		if !found {
			break
		}
		if j := strings.IndexByte(k, ';'); j >= 0 { // a segment without "=": skip it
			s = k[j+1:] + "=" + rest
			continue
		}
		rest = strings.TrimLeft(rest, " \t")
		var v string
		if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
			q := rest[0]
			var b strings.Builder
			i := 1
			for ; i < len(rest); i++ {
				if rest[i] == q {
					if i+1 < len(rest) && rest[i+1] == q {
						b.WriteByte(q)
						i++
						continue
					}
					break
				}
				b.WriteByte(rest[i])
			}
			v = b.String()
			rest = rest[min(i+1, len(rest)):]
			if j := strings.IndexByte(rest, ';'); j >= 0 {
				rest = rest[j+1:]
			} else {
				rest = ""
			}
		} else {
			v, rest, _ = strings.Cut(rest, ";")
			v = strings.TrimSpace(v)
		}
		params[strings.ToLower(strings.TrimSpace(k))] = v
		s = rest
	}
	return params, len(params) > 0
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
		if isCredential(k) {
			continue
		}
		switch k {
		case "host", "server", "port", "dbname", "database":
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

// isCredential reports whether a connection-string parameter names a user,
// a password or key material, in any of the spellings of libpq, JDBC and
// Npgsql ("SSL Password", "sslpassword", "Pwd", "User ID"): such values are
// never printed.
func isCredential(key string) bool {
	k := strings.NewReplacer(" ", "", "_", "", "-", "").Replace(strings.ToLower(key))
	switch k {
	case "user", "username", "userid", "uid", "pwd", "psw", "passfile", "sslkey", "sslcert", "clientcertificate", "clientkey", "rootcertificate":
		return true
	}
	for _, w := range []string{"password", "passwd", "secret", "token", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
