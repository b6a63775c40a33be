package config

import (
	"encoding/json"
	"log/slog"
)

const redacted = "[redacted]"

// Secret is a configuration value that must never be printed, logged or
// serialised: every formatting path yields "[redacted]". Use Value to get
// the secret itself where it is actually needed.
type Secret struct {
	value string
}

// NewSecret wraps v (for tests and programmatic configuration).
func NewSecret(v string) Secret { return Secret{value: v} }

// Value returns the secret itself.
func (s Secret) Value() string { return s.value }

// IsZero reports whether the secret is empty (not configured).
func (s Secret) IsZero() bool { return s.value == "" }

// String redacts the secret for fmt's %s and %v.
func (s Secret) String() string { return redacted }

// GoString redacts the secret for fmt's %#v.
func (s Secret) GoString() string { return redacted }

// MarshalJSON redacts the secret in JSON output.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// MarshalText redacts the secret for encoders using encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue redacts the secret in log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
