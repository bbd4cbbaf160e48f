package loadtest

// Counts is what became of the requests of an endpoint, a stage or a
// window.
type Counts struct {
	Sent uint64 // requests sent (every outcome below adds up to it)
	OK   uint64 // 2xx
	// Shed is 503 answers with a valid Retry-After: the service refused
	// the request by design (load shedding). Not an error.
	Shed uint64
	// ShedNoRetryAfter is 503 answers without a valid Retry-After: the
	// contract says every 503 carries one, so these count as errors.
	ShedNoRetryAfter uint64
	ClientErrors     uint64 // 4xx
	ServerErrors     uint64 // 5xx other than 503
	Timeouts         uint64 // no answer within Scenario.Timeout
	TransportErrors  uint64 // refused, reset, ... (no HTTP answer)
	Other            uint64 // 1xx, 3xx
	// Watched counts answers whose body contained Scenario.WatchFor
	// (whatever their class: it is a flag, not an outcome).
	Watched uint64
}

func (c *Counts) add(cl class) {
	c.Sent++
	switch cl {
	case classOK:
		c.OK++
	case classShed:
		c.Shed++
	case classShedNoRetry:
		c.ShedNoRetryAfter++
	case classClientError:
		c.ClientErrors++
	case classServerError:
		c.ServerErrors++
	case classTimeout:
		c.Timeouts++
	case classTransportError:
		c.TransportErrors++
	default:
		c.Other++
	}
}

// Errors is every request that neither succeeded nor was shed by design.
func (c Counts) Errors() uint64 {
	return c.ShedNoRetryAfter + c.ClientErrors + c.ServerErrors + c.Timeouts + c.TransportErrors + c.Other
}

// Answered is the requests that got an HTTP answer.
func (c Counts) Answered() uint64 { return c.Sent - c.Timeouts - c.TransportErrors }

// ErrorRate is Errors over Sent (0 when nothing was sent).
func (c Counts) ErrorRate() float64 { return share(c.Errors(), c.Sent) }

// ShedRate is Shed (with Retry-After) over Sent.
func (c Counts) ShedRate() float64 { return share(c.Shed, c.Sent) }

func share(n, of uint64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}
