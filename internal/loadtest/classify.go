package loadtest

import (
	"net/http"
	"strconv"
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// class is what became of one request.
type class int

const (
	classOK             class = iota // 2xx
	classShed                        // 503 with a valid Retry-After: the designed refusal
	classShedNoRetry                 // 503 without (or with a bad) Retry-After: flagged, an error
	classClientError                 // 4xx
	classServerError                 // other 5xx
	classTimeout                     // no answer within Scenario.Timeout
	classTransportError              // connection refused, reset, ...
	classOther                       // 1xx, 3xx (redirects are not followed)
)

// classify sorts a vegeta result. vegeta keeps only the error's text, so
// a timeout is recognised by the messages net/http gives a client timeout.
func classify(r *vegeta.Result) class {
	switch c := r.Code; {
	case c == 0:
		if isTimeout(r.Error) {
			return classTimeout
		}
		return classTransportError
	case c >= 200 && c < 300:
		return classOK
	case c == http.StatusServiceUnavailable:
		if validRetryAfter(r.Headers.Get("Retry-After")) {
			return classShed
		}
		return classShedNoRetry
	case c >= 400 && c < 500:
		return classClientError
	case c >= 500:
		return classServerError
	default:
		return classOther
	}
}

func isTimeout(msg string) bool {
	return strings.Contains(msg, "Client.Timeout") ||
		strings.Contains(msg, "deadline exceeded") ||
		strings.Contains(msg, "i/o timeout")
}

// validRetryAfter reports whether v is a Retry-After value (RFC 9110
// 10.2.3): a number of seconds or an HTTP date.
func validRetryAfter(v string) bool {
	if v == "" {
		return false
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n >= 0
	}
	_, err := http.ParseTime(v)
	return err == nil
}
