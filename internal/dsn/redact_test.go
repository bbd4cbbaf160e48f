package dsn_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/internal/dsn"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, want string }{
		{"jdbc url", "jdbc:postgresql://db:5432/app?user=u&password=s3cret&ssl=true", "jdbc:postgresql://db:5432/app?user=u&password=xxxxx&ssl=true"},
		{"ado.net", "Host=db;Username=u;Password=s3cret;Pooling=true", "Host=db;Username=u;Password=xxxxx;Pooling=true"},
		{"ado.net pwd", "Server=db;User Id=u;Pwd=s3cret", "Server=db;User Id=u;Pwd=xxxxx"},
		{"empty", "", ""},
		{"url without password", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
			"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"},
		{"url with password", "postgres://app:s3cret@db.internal:5432/shop?sslmode=require",
			"postgres://app:xxxxx@db.internal:5432/shop?sslmode=require"},
		{"postgresql scheme", "postgresql://app:s3cret@h/db", "postgresql://app:xxxxx@h/db"},
		{"url empty password", "postgres://app:@h/db", "postgres://app:xxxxx@h/db"},
		{"url escaped password", "postgres://app:p%40ss%2Fw@h/db", "postgres://app:xxxxx@h/db"},
		{"url unescaped at and slash", "postgres://app:p@s/s@h:5432/db", "postgres://app:xxxxx@h:5432/db"},
		{"url multi host", "postgres://app:s3cret@h1:5432,h2:5433/db?target_session_attrs=read-write",
			"postgres://app:xxxxx@h1:5432,h2:5433/db?target_session_attrs=read-write"},
		{"url password in query", "postgres://h/db?user=app&password=s3cret&sslmode=disable",
			"postgres://h/db?user=app&password=xxxxx&sslmode=disable"},
		{"url sslpassword in query", "postgres://app@h/db?sslpassword=k3y", "postgres://app@h/db?sslpassword=xxxxx"},
		{"url no userinfo", "postgres://h/db", "postgres://h/db"},
		{"url with at in query only", "postgres://h/db?application_name=a@b", "postgres://h/db?application_name=a@b"},
		{"kv without password", "host=h user=u dbname=d", "host=h user=u dbname=d"},
		{"kv password", "host=h user=u password=s3cret dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"kv spaces around equals", "host=h password = s3cret port=5432", "host=h password = xxxxx port=5432"},
		{"kv quoted", "password='se cret' host=h", "password='xxxxx' host=h"},
		{"kv quoted escape", `password='it\'s' host=h`, `password='xxxxx' host=h`},
		{"kv unterminated quote", "host=h password='oops user=u", "host=h password='xxxxx"},
		{"kv escaped space bare", `password=a\ b host=h`, `password=xxxxx host=h`},
		{"kv upper case key", "PASSWORD=s3cret", "PASSWORD=xxxxx"},
		{"kv sslpassword", "sslpassword=k3y sslkey=/k", "sslpassword=xxxxx sslkey=/k"},
		{"kv empty quoted", "password='' host=h", "password='xxxxx' host=h"},
		{"kv password at end", "host=h password=", "host=h password=xxxxx"},
		{"kv value containing scheme", "password=a://b host=h", "password=xxxxx host=h"},
		{"kv empty value before password", "host= password=s3cret user=u", "host= password=xxxxx user=u"},
		{"kv empty value before spaced password", "host= password = 's3 cret'", "host= password = 'xxxxx'"},
		{"kv garbage word", "host=h junk password=p", "host=h junk password=xxxxx"},
		{"url percent-encoded key", "postgres://h/db?pass%77ord=s3cret&sslmode=disable", "postgres://h/db?pass%77ord=xxxxx&sslmode=disable"},
		{"url upper-case scheme", "POSTGRES://u:s3cret@h/db", "POSTGRES://u:xxxxx@h/db"},
		{"url upper-case query key", "postgresql://h/db?PASSWORD=s3cret", "postgresql://h/db?PASSWORD=xxxxx"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := dsn.Redact(tc.in); got != tc.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestSecretsFindsEveryForm checks that Secrets returns the value as written
// and decoded, so that Scrub hides it in a message that quotes either.
func TestSecretsFindsEveryForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"host=h password = s3cret", []string{"s3cret"}},
		{`password='it\'s s3cret' host=h`, []string{`'it\'s s3cret'`, "it's s3cret"}},
		{"postgres://u:s3%40cret@h/db", []string{"s3%40cret", "s3@cret"}},
		{"postgres://h/db?pass%77ord=s3+cret", []string{"s3+cret", "s3 cret"}},
		{"Host=h;Password=s3cret;", []string{"s3cret"}},
		{"host=h user=u", nil},
	} {
		got := dsn.Secrets(tc.in)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("Secrets(%q) = %q, want it to hold %q", tc.in, got, w)
			}
		}
		if tc.want == nil && len(got) != 0 {
			t.Errorf("Secrets(%q) = %q, want none", tc.in, got)
		}
	}
	msg := "cannot parse `host=h password=it\\'`: bad value it's s3cret"
	if got := dsn.Scrub(msg, []string{"", "it's s3cret", "s3cret"}); strings.Contains(got, "s3cret") {
		t.Errorf("Scrub left the secret: %q", got)
	}
}

// TestRedactAgreesWithPgx checks that what Redact keeps still parses to the
// same server as the original: redaction must not make an operator guess
// which host an error was about.
func TestRedactAgreesWithPgx(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"postgres://app:s3cret@db.internal:6543/shop?sslmode=disable",
		"host=db.internal port=6543 user=app password='se cret' dbname=shop sslmode=disable",
	} {
		orig, err := pgx.ParseConfig(s)
		if err != nil {
			t.Fatal(err)
		}
		red, err := pgx.ParseConfig(dsn.Redact(s))
		if err != nil {
			t.Fatalf("redacted %q no longer parses: %v", dsn.Redact(s), err)
		}
		if orig.Host != red.Host || orig.Port != red.Port || orig.User != red.User || orig.Database != red.Database {
			t.Errorf("%q: redacted form points elsewhere: %s:%d %s/%s", s, red.Host, red.Port, red.User, red.Database)
		}
		if red.Password != dsn.Mask {
			t.Errorf("%q: password parsed as %q, want the mask", s, red.Password)
		}
	}
}

// FuzzRedact checks the two properties that matter whatever the input: a
// password placed in either form never survives, and Redact is idempotent.
func FuzzRedact(f *testing.F) {
	f.Add("s3cret", "h")
	f.Add("p@ss/word", "db.internal")
	f.Add("it's a 'quote'", "h1,h2")
	f.Add(`back\slash`, "h")
	f.Fuzz(func(t *testing.T, password, host string) {
		const marker = "PW7q"
		secret := marker + password
		if strings.ContainsAny(host, "@/?'\\ \t\n\r\f\v=") || strings.Contains(host, marker) {
			return
		}
		quoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(secret) + "'"
		for _, s := range []string{
			"postgres://app:" + strings.ReplaceAll(secret, "?", "%3F") + "@" + host + "/db?sslmode=disable",
			"host=" + host + " password=" + quoted + " user=app",
			"POSTGRES://" + host + "/db?pass%77ord=" + url.QueryEscape(secret),
			"host=" + host + " PASSWORD = " + quoted,
		} {
			got := dsn.Redact(s)
			if strings.Contains(got, marker) {
				t.Errorf("Redact(%q) = %q still holds the password", s, got)
			}
			// A message may quote the DSN, and the password decoded when
			// the DSN could decode it (a driver printing what it parsed).
			msg := "error: " + s
			if _, err := url.PathUnescape(s); err == nil || !strings.Contains(s, "://") {
				msg += " / " + secret
			}
			if scrubbed := dsn.Scrub(msg, dsn.Secrets(s)); strings.Contains(scrubbed, marker) {
				t.Errorf("Scrub(%q, Secrets) = %q still holds the password", s, scrubbed)
			}
			if again := dsn.Redact(got); again != got {
				t.Errorf("Redact is not idempotent on %q: %q then %q", s, got, again)
			}
		}
	})
}

func ExampleRedact() {
	fmt.Println(dsn.Redact("postgres://app:s3cret@db:5432/shop?sslmode=require"))
	fmt.Println(dsn.Redact("host=db user=app password='se cret' dbname=shop"))
	// Output:
	// postgres://app:xxxxx@db:5432/shop?sslmode=require
	// host=db user=app password='xxxxx' dbname=shop
}
