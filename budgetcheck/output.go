package budgetcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(escapeJSON(buf.Bytes()))
	return err
}

// percent renders demand as a share of usable, rounded to the nearest
// percent (380 of 197 is 193%, not a truncated 192%), or "-" when
// meaningless. Only a demand equal to usable shows 100%: 996 of 1000 shows
// 99% and 1001 of 1000 shows 101%, so that the figure never contradicts
// the verdict. It computes in float64 so that no demand can overflow.
func percent(demand, usable int) string {
	if usable <= 0 {
		return "-"
	}
	p := math.Round(float64(demand) * 100 / float64(usable))
	switch {
	case p == 100 && demand < usable:
		p = 99
	case p == 100 && demand > usable:
		p = 101
	}
	return fmt.Sprintf("%.0f%%", p)
}

// plural writes a count with its noun: "1 database", "2 databases".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func upper(v Verdict) string { return strings.ToUpper(string(v)) }
