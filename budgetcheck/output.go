package budgetcheck

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Format is an output format of [Write].
type Format string

const (
	Text  Format = "text"  // a per-database table for people
	JSON  Format = "json"  // the Report, schema SchemaVersion
	SARIF Format = "sarif" // SARIF 2.1.0 for code scanning
	HTML  Format = "html"  // one self-contained page with a bar chart per database
)

// Formats lists the formats [Write] accepts.
var Formats = []Format{Text, JSON, SARIF, HTML}

// Write renders the report in the given format; it returns
// [ErrUnknownFormat] for any other.
func Write(w io.Writer, r *Report, f Format) error {
	switch f {
	case Text:
		return writeText(w, r)
	case JSON:
		return writeJSON(w, r)
	case SARIF:
		return writeJSON(w, toSARIF(r))
	case HTML:
		return writeHTML(w, r)
	}
	return fmt.Errorf("%w: %q", ErrUnknownFormat, f)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// percent renders demand as a share of usable, or "-" when meaningless.
func percent(demand, usable int) string {
	if usable <= 0 {
		return "-"
	}
	return fmt.Sprintf("%d%%", demand*100/usable)
}

func upper(v Verdict) string { return strings.ToUpper(string(v)) }
