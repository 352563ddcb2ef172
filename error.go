package joule

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in internal/httpapi.
const (
	EINVALID      = "invalid"      // bad input: 400
	ETOOLARGE     = "too_large"    // request body over the limit: 413
	ERATELIMITED  = "rate_limited" // over a rate limit: 429
	EUNAUTHORIZED = "unauthorized" // no or bad credentials: 401
	EFORBIDDEN    = "forbidden"    // credentials lack the role or workspace: 403
	ENOTFOUND     = "not_found"    // no such resource: 404
	EMETHOD       = "method_not_allowed"
	ECONFLICT     = "conflict"    // already exists, or state forbids it: 409
	EUNAVAILABLE  = "unavailable" // dependency down, shutting down: 503
	EINTERNAL     = "internal"    // anything else: 500; details are logged, not shown
)

// Error is the one domain error type. Code is one of the E* constants and
// Message is safe to show to users. Err, when set, is the underlying cause;
// it is logged but never shown.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of the first *Error in err's
// chain, or "internal error" for any other non-nil error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "internal error"
}
