package budgetcheck

import "errors"

// InputError is returned by [ReadSources] and [Run] when an input cannot be
// read at all (a missing file, an unreadable directory, no input). A
// document that can be read but not decoded is not an InputError: it becomes
// a finding of check PGF008 and the other documents are still checked.
type InputError struct {
	Path   string // the input as named; empty when there was none
	Reason string
	Err    error // the underlying error, if any
	Fix    string
}

func (e *InputError) Error() string {
	msg := "budgetcheck: "
	if e.Path != "" {
		msg += e.Path + ": "
	}
	msg += e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Fix != "" {
		msg += " (" + e.Fix + ")"
	}
	return msg
}

func (e *InputError) Unwrap() error { return e.Err }

// ErrUnknownFormat is returned by [Write] for a format other than text, json,
// sarif or html.
var ErrUnknownFormat = errors.New("budgetcheck: unknown format (want text, json, sarif or html)")

// IsInputError reports whether err means an input could not be read.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}
