package budgetcheck

import "strings"

// Severity orders findings; the CLI exits 1 on findings at or above
// --fail-on.
type Severity string

const (
	Info    Severity = "info"
	Warning Severity = "warning"
	Error   Severity = "error"
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 3
	case Warning:
		return 2
	case Info:
		return 1
	}
	return 0
}

// AtLeast reports whether s is as severe as min.
func (s Severity) AtLeast(min Severity) bool { return s.rank() >= min.rank() }

// ParseSeverity reads "error", "warning" or "info" (case-insensitive).
func ParseSeverity(s string) (Severity, bool) {
	sev := Severity(strings.ToLower(strings.TrimSpace(s)))
	return sev, sev.rank() > 0
}

// Finding is one result of a [Check], as data.
type Finding struct {
	Check    string   `json:"check"` // the check's ID, e.g. "PGF001"
	Name     string   `json:"name"`  // the check's name, e.g. "over-budget"
	Severity Severity `json:"severity"`
	// Unit is the deployment unit (kustomization or chart directory) the
	// finding is about; empty for loose manifests.
	Unit     string   `json:"unit,omitempty"`
	Database string   `json:"database,omitempty"`
	Client   string   `json:"client,omitempty"`
	Location Location `json:"location"`
	Message  string   `json:"message"`
	// Arithmetic is the computation that led to the finding.
	Arithmetic string `json:"arithmetic,omitempty"`
	// Suggestion says what to change, with numbers that fit when there are.
	Suggestion string `json:"suggestion,omitempty"`
}
