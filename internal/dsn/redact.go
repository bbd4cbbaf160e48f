package dsn

import (
	"net/url"
	"regexp"
	"sort"
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
func Redact(s string) string { return redact(s, nil) }

// Secrets returns every secret value Redact would hide in s, each as written
// and, where the form encodes it (percent-encoding, quotes, backslashes), as
// decoded: the forms a driver's or a server's message may quote. Use it with
// [Scrub] on text that may carry a DSN's secrets in a shape Redact cannot
// parse, such as another library's error message.
func Secrets(s string) []string {
	var out []string
	redact(s, func(raw string) {
		out = append(out, raw)
		if d, err := url.PathUnescape(raw); err == nil && d != raw {
			out = append(out, d)
		}
		if d, err := url.QueryUnescape(raw); err == nil && d != raw {
			out = append(out, d)
		}
		if d := unquote(raw); d != raw {
			out = append(out, d)
		}
	})
	return out
}

// Scrub replaces every occurrence of each non-empty secret in text with
// [Mask], longest first so that a secret holding a shorter one is hidden
// whole.
func Scrub(text string, secrets []string) string {
	sorted := make([]string, 0, len(secrets))
	for _, sec := range secrets {
		if sec != "" {
			sorted = append(sorted, sec)
		}
	}
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	for _, sec := range sorted {
		text = strings.ReplaceAll(text, sec, Mask)
	}
	return text
}

// unquote undoes libpq's value quoting: surrounding single quotes and
// backslash escapes.
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		v = v[1 : len(v)-1]
	}
	if !strings.ContainsRune(v, '\\') {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// redact is Redact reporting each hidden value to note (when not nil).
func redact(s string, note func(string)) string {
	if i := strings.Index(s, "://"); i >= 0 && isScheme(s[:i]) {
		return maskOtherDialects(redactURL(s, i+len("://"), note), note)
	}
	return maskOtherDialects(redactKeyValue(s, note), note)
}

// otherDialects finds passwords in the connection strings of other drivers
// that reach pgfleet through manifests and environments: JDBC URLs
// (jdbc:postgresql://h/db?password=x) and ADO.NET strings
// (Host=h;Password=x;). The value runs to the next separator; a password
// holding one is cut there, and its tail stays visible, so the parsers above
// come first for the pgx forms (a quoted value is theirs, and skipped here).
var otherDialects = regexp.MustCompile(`(?i)(^|[;?&\s])((?:ssl)?password|pwd|psw)(\s*=\s*)[^;&\s']+`)

func maskOtherDialects(s string, note func(string)) string {
	if note != nil {
		for _, m := range otherDialects.FindAllStringSubmatchIndex(s, -1) {
			// m[7] ends group 3 (the separator); the value runs to m[1].
			if v := s[m[7]:m[1]]; v != Mask {
				note(v)
			}
		}
	}
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
func redactURL(s string, start int, note func(string)) string {
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
			noteValue(note, userinfo[colon+1:])
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
		b.WriteString(redactQuery(s[end+1:], note))
	}
	return b.String()
}

// redactQuery masks secret parameters in a URL query (k=v&k=v#frag), keeping
// the others and their order as written. A key is compared decoded: pgx
// reads ?pass%77ord=x as a password.
func redactQuery(query string, note func(string)) string {
	parts := strings.Split(query, "&")
	for i, p := range parts {
		key, value, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if secretKeys[strings.ToLower(key)] {
			noteValue(note, value)
			parts[i] = p[:strings.IndexByte(p, '=')] + "=" + Mask
		}
	}
	return strings.Join(parts, "&")
}

// noteValue reports a hidden value that is not already the mask.
func noteValue(note func(string), v string) {
	if note != nil && v != Mask && v != "'"+Mask+"'" {
		note(v)
	}
}

// redactKeyValue handles libpq's key = value form: values are bare words or
// single-quoted strings with backslash escapes, and spaces around '=' are
// allowed. Only the value spans of secret keys are replaced.
func redactKeyValue(s string, note func(string)) string {
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
		if secretKeys[strings.ToLower(key)] {
			noteValue(note, s[k:end])
		}
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
