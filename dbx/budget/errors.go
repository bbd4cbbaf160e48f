package budget

// Error is returned when a budget cannot be met. Reason holds the arithmetic
// that failed, Fix says what to change.
type Error struct {
	Reason string
	Fix    string
}

func (e *Error) Error() string {
	if e.Fix == "" {
		return "budget: " + e.Reason
	}
	return "budget: " + e.Reason + "; fix: " + e.Fix
}
