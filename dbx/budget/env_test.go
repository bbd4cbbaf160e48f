package budget_test

import (
	"strings"
	"testing"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestParseEnvReadsTheDeclaration(t *testing.T) {
	t.Parallel()
	d, err := budget.ParseEnv(lookupIn(map[string]string{
		"PGFLEET_SERVICE": "orders", "PGFLEET_POOL_MAX": "8", "PGFLEET_QUOTA": " 40 ", "PGFLEET_QUOTA_MIN": "2",
		"PGFLEET_REPLICAS": "3", "PGFLEET_MAX_REPLICAS": "12", "PGFLEET_MAX_SURGE": "50%", "PGFLEET_PROCESSES": "4",
		"PGFLEET_HEADROOM": "5", "PGFLEET_NO_SURGE": "false", "PGFLEET_SHARE": "",
	}))
	want := budget.Declaration{Service: "orders", PoolMax: 8, Quota: 40, QuotaMin: 2, Headroom: 5,
		Fleet: budget.Service{Name: "orders", Replicas: 3, MaxReplicas: 12, MaxSurge: "50%", Processes: 4}}
	if err != nil || d != want {
		t.Fatalf("ParseEnv = %+v, %v; want %+v", d, err, want)
	}
	if d, err := budget.ParseEnv(lookupIn(nil)); err != nil || d != (budget.Declaration{}) {
		t.Fatalf("empty environment: %+v, %v", d, err)
	}
}

// Every malformed variable is reported, each with its name and a fix.
func TestParseEnvRejectsBadValues(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"PGFLEET_POOL_MAX": "ten", "PGFLEET_QUOTA": "-1", "PGFLEET_REPLICAS": "2147483648", "PGFLEET_SHARE": "1.5",
		"PGFLEET_MAX_SURGE": "lots", "PGFLEET_NO_SURGE": "maybe",
	}
	_, err := budget.ParseEnv(lookupIn(bad))
	if err == nil {
		t.Fatal("accepted")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	if !strings.HasPrefix(err.Error(), "budget: ") || !strings.Contains(err.Error(), "fix: ") {
		t.Errorf("error lacks the package prefix or a fix: %v", err)
	}
}
