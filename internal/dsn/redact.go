package dsn

import (
	"regexp"
	"strings"
)

// Mask replaces every secret that [Redact] removes. It is the same marker pgx
// uses in its own parse errors, so messages from both read alike.
const Mask = "xxxxx"

// secretKeys are the connection parameters whose values are secrets, in
// either DSN form. sslpassword unlocks the client key, so it is a secret too.
var secretKeys = map[string]bool{
	"password":    true,
	"sslpassword": true,
}

// Redact returns s with every password replaced by [Mask]. Everything else
// (user, hosts, database, options) is kept byte for byte, because that is what
// an operator needs to tell which server an error is about.
//
// Redact never fails: on a malformed string it hides more rather than less (an
// unterminated quoted password hides the rest of the string). The empty string
// stays empty.
func Redact(s string) string {
	if i := strings.Index(s, "://"); i >= 0 && isScheme(s[:i]) {
		return maskOtherDialects(redactURL(s, i+len("://")))
	}
	return maskOtherDialects(redactKeyValue(s))
}

// otherDialects finds passwords in the connection strings of other drivers
// that reach pgfleet through manifests and environments: JDBC URLs
// (jdbc:postgresql://h/db?password=x) and ADO.NET strings
// (Host=h;Password=x;). The value runs to the next separator; a password
// holding one is cut there, and its tail stays visible, so the parsers above
// come first for the pgx forms (a quoted value is theirs, and skipped here).
var otherDialects = regexp.MustCompile(`(?i)(^|[;?&\s])((?:ssl)?password|pwd|psw)(\s*=\s*)[^;&\s']+`)

func maskOtherDialects(s string) string {
	return otherDialects.ReplaceAllString(s, "${1}${2}${3}"+Mask)
}

// isScheme reports whether s looks like a URL scheme, so that a key=value
// string whose password happens to contain "://" is not taken for a URL.
func isScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		// ':' joins nested schemes such as jdbc:postgresql.
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.' || r == ':')) {
			return false
		}
	}
	return true
}

// redactURL handles postgres://user:pass@host1,host2/db?k=v. It does not use
// net/url: an unescaped '@' or '/' in a password makes url.Parse fail, which
// is exactly when the password must still be hidden. The userinfo is taken to
// end at the last '@' before the query, so an unescaped '@' in the password
// is hidden along with the rest of it.
func redactURL(s string, start int) string {
	q := strings.IndexByte(s[start:], '?')
	end := len(s)
	if q >= 0 {
		end = start + q
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:start])
	rest := s[start:end]
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		userinfo := rest[:at]
		if colon := strings.IndexByte(userinfo, ':'); colon >= 0 {
			b.WriteString(userinfo[:colon+1])
			b.WriteString(Mask)
		} else {
			b.WriteString(userinfo)
		}
		b.WriteString(rest[at:])
	} else {
		b.WriteString(rest)
	}
	if q >= 0 {
		b.WriteByte('?')
		b.WriteString(redactQuery(s[end+1:]))
	}
	return b.String()
}

// redactQuery masks secret parameters in a URL query (k=v&k=v#frag), keeping
// the others and their order as written.
func redactQuery(query string) string {
	parts := strings.Split(query, "&")
	for i, p := range parts {
		key, _, ok := strings.Cut(p, "=")
		if ok && secretKeys[strings.ToLower(key)] {
			parts[i] = key + "=" + Mask
		}
	}
	return strings.Join(parts, "&")
}

// redactKeyValue handles libpq's key = value form: values are bare words or
// single-quoted strings with backslash escapes, and spaces around '=' are
// allowed. Only the value spans of secret keys are replaced.
func redactKeyValue(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for i < len(s) {
		// Copy whitespace and the key verbatim.
		j := skipSpace(s, i)
		k := j
		for k < len(s) && s[k] != '=' && !isSpace(s[k]) {
			k++
		}
		key := s[j:k]
		k = skipSpace(s, k)
		if k >= len(s) || s[k] != '=' {
			// Not a key=value pair: keep it, nothing here is a value.
			b.WriteString(s[i:k])
			i = k
			continue
		}
		k = skipSpace(s, k+1)
		b.WriteString(s[i:k])
		if startsSecretPair(s[k:]) {
			// "host= password=x": libpq reads "password=x" as host's
			// value, but a person meant a password: hide it as one.
			i = k
			continue
		}
		end, closed := valueEnd(s, k)
		if !secretKeys[strings.ToLower(key)] {
			b.WriteString(s[k:end])
		} else if k < len(s) && s[k] == '\'' {
			b.WriteString("'" + Mask)
			if closed {
				b.WriteByte('\'')
			}
		} else {
			b.WriteString(Mask)
		}
		i = end
	}
	return b.String()
}

// startsSecretPair reports whether s starts with a secret key and '='.
func startsSecretPair(s string) bool {
	k := 0
	for k < len(s) && s[k] != '=' && !isSpace(s[k]) {
		k++
	}
	key := s[:k]
	k = skipSpace(s, k)
	return secretKeys[strings.ToLower(key)] && k < len(s) && s[k] == '='
}

// valueEnd returns where the value starting at i ends, and whether a quoted
// value was properly closed (an unclosed one runs to the end of s).
func valueEnd(s string, i int) (end int, closed bool) {
	if i < len(s) && s[i] == '\'' {
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '\'':
				return j + 1, true
			}
		}
		return len(s), false
	}
	j := i
	for j < len(s) && !isSpace(s[j]) {
		if s[j] == '\\' {
			j++
		}
		j++
	}
	return min(j, len(s)), true
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
