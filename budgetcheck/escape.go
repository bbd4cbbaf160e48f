package budgetcheck

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// escape makes a string from the manifests safe to print on a terminal:
// control characters (C0, DEL, C1), Unicode format characters (bidi
// overrides such as U+202E, zero-width characters) and invalid UTF-8 are
// written as Go escapes (\x1b, \n, \u202e). A name can then neither inject
// terminal sequences nor break a line of the report into a fake finding.
func escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x100 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i, r := range s {
		if unsafeRune(r) || (r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError))) {
			return true
		}
	}
	return false
}

// unsafeRune reports a control or format character (Unicode Cc and Cf).
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// escapeJSON rewrites the control and format characters that encoding/json
// leaves raw (DEL, C1, bidi overrides, zero-width characters) as \u escapes.
// They can only occur inside JSON strings, so the document means the same
// and round-trips; only a terminal showing it no longer obeys them.
func escapeJSON(b []byte) []byte {
	return escapeRunes(b, func(w *bytes.Buffer, r rune) {
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			fmt.Fprintf(w, `\u%04x\u%04x`, r1, r2)
			return
		}
		fmt.Fprintf(w, `\u%04x`, r)
	})
}

// escapeHTML rewrites the control and format characters that html/template
// leaves raw as the text of [escape] ("\u202e"): visible, and with no
// meaning to a browser or a terminal.
func escapeHTML(b []byte) []byte {
	return escapeRunes(b, func(w *bytes.Buffer, r rune) { w.WriteString(escape(string(r))) })
}

// escapeRunes copies b, writing every unsafe rune other than newline, tab
// and carriage return (which the formats themselves use) with repl.
func escapeRunes(b []byte, repl func(*bytes.Buffer, rune)) []byte {
	if !needsEscape(string(b)) {
		return b
	}
	var w bytes.Buffer
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r != '\n' && r != '\t' && r != '\r' && unsafeRune(r) {
			repl(&w, r)
		} else {
			w.Write(b[:size])
		}
		b = b[size:]
	}
	return w.Bytes()
}
