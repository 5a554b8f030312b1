package wire

import "fmt"

// Error codes of the error envelope.
const (
	CodeBadRequest   = "bad_request"  // 400: malformed JSON, a missing or invalid field
	CodeUnauthorized = "unauthorized" // 401: no credentials, or wrong ones
	CodeForbidden    = "forbidden"    // 403: valid credentials without the right
	CodeNotFound     = "not_found"    // 404
	CodeConflict     = "conflict"     // 409
	CodeTooLarge     = "too_large"    // 413: body or decoded body over the limits
	CodeRateLimited  = "rate_limited" // 429: with a Retry-After header
	CodeUnavailable  = "unavailable"  // 503: shutting down, store unreachable
	CodeInternal     = "internal"     // 500
)

// Error is the one error envelope of every Vigil API answer that is not a success:
// {"error": {"code": "...", "message": "...", "field": "..."}}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the offending input field (a JSON path such as "events[3].time"), when one is.
	Field string `json:"field,omitempty"`
}

// ErrorBody wraps Error as it travels.
type ErrorBody struct {
	Error Error `json:"error"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}
