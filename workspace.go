package joule

import (
	"regexp"
	"time"
)

// Workspace is a tenant: every resource belongs to exactly one workspace, and
// every token is bound to one.
type Workspace struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateName checks a resource name: 1 to 63 lowercase letters, digits and
// dashes, starting and ending with a letter or digit (a DNS label). field
// names the field in the error.
func ValidateName(field, name string) error {
	if name == "" {
		return Errorf(EINVALID, "%s: required", field)
	}
	if !nameRE.MatchString(name) {
		return Errorf(EINVALID, "%s: %q must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit", field, name)
	}
	return nil
}

// ListOptions selects one page of a list. Lists are ordered by ID, oldest
// first. Cursor is the opaque Next value of the previous page.
type ListOptions struct {
	Limit  int    // 0 means DefaultLimit; more than MaxLimit is capped
	Cursor string // "" starts at the beginning
}

// Paging limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// WithDefaults returns o with Limit in [1, MaxLimit].
func (o ListOptions) WithDefaults() ListOptions {
	if o.Limit <= 0 {
		o.Limit = DefaultLimit
	}
	if o.Limit > MaxLimit {
		o.Limit = MaxLimit
	}
	return o
}
