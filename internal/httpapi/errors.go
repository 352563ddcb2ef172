package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/joule-dev/joule"
)

// codeStatus is the one table that maps error codes to HTTP statuses.
var codeStatus = map[string]int{
	joule.EINVALID:      http.StatusBadRequest,
	joule.EUNAUTHORIZED: http.StatusUnauthorized,
	joule.EFORBIDDEN:    http.StatusForbidden,
	joule.ENOTFOUND:     http.StatusNotFound,
	joule.EMETHOD:       http.StatusMethodNotAllowed,
	joule.ECONFLICT:     http.StatusConflict,
	joule.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	joule.ERATELIMITED:  http.StatusTooManyRequests,
	joule.EUNAVAILABLE:  http.StatusServiceUnavailable,
	joule.EINTERNAL:     http.StatusInternalServerError,
}

// StatusFromCode returns the HTTP status for an error code.
func StatusFromCode(code string) int {
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeFromStatus returns the error code for an HTTP status, for responses
// that carry no JSON error body (a proxy in between, say).
func CodeFromStatus(status int) string {
	for c, s := range codeStatus {
		if s == status {
			return c
		}
	}
	return joule.EINTERNAL
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// writeError writes err in the JSON error shape. Internal errors are logged
// with their detail and shown as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	code, msg := joule.ErrorCode(err), joule.ErrorMessage(err)
	if code == joule.EINTERNAL {
		logger.ErrorContext(r.Context(), "internal error", "err", err, "method", r.Method, "path", r.URL.Path)
	}
	writeJSON(w, StatusFromCode(code), errorBody{Error: errorDetail{Code: code, Message: msg, RequestID: joule.RequestIDFromContext(r.Context())}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decode reads one JSON value from the request body into v. Unknown fields,
// trailing data, syntax errors and oversized bodies become EINVALID or
// ETOOLARGE errors that say where the problem is.
func decode(r *http.Request, v any) error {
	if r.Body == nil {
		return joule.Errorf(joule.EINVALID, "request body is empty: expected a JSON object")
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return joule.Errorf(joule.ETOOLARGE, "request body is larger than %d bytes", mbe.Limit)
		}
		return joule.Errorf(joule.EINVALID, "read request body: %v", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return joule.Errorf(joule.EINVALID, "request body is empty: expected a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(data, err)
	}
	if dec.More() {
		line, col := position(data, dec.InputOffset())
		return joule.Errorf(joule.EINVALID, "invalid JSON at line %d, column %d: unexpected data after the JSON value", line, col)
	}
	return nil
}

func jsonError(data []byte, err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		off := max(se.Offset-1, 0) // Offset is just past the offending byte
		line, col := position(data, off)
		return joule.Errorf(joule.EINVALID, "invalid JSON at line %d, column %d (byte %d): %s", line, col, off+1, se.Error())
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		line, col := position(data, te.Offset)
		field := te.Field
		if field == "" {
			field = "body"
		}
		return joule.Errorf(joule.EINVALID, "field %s: expected %s, got JSON %s (line %d, column %d)", field, te.Type, te.Value, line, col)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		line, col := position(data, int64(len(data)))
		return joule.Errorf(joule.EINVALID, "invalid JSON at line %d, column %d: unexpected end of input", line, col)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return joule.Errorf(joule.EINVALID, "unknown field %s", f)
	}
	return joule.Errorf(joule.EINVALID, "invalid JSON: %s", strings.TrimPrefix(msg, "json: "))
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// errMissingBody and friends are shared messages.
func errField(field, format string, args ...any) error {
	return joule.Errorf(joule.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
}
