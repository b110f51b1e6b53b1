// Package apperr is Silo's one error model. Services return these codes,
// wrapped with %w and context; each transport maps them to its protocol's
// error body in exactly one place.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for the transports.
type Code string

const (
	NotFound        Code = "not_found"
	Invalid         Code = "invalid"
	Conflict        Code = "conflict"
	Unauthenticated Code = "unauthenticated"
	Denied          Code = "denied"
	TooLarge        Code = "too_large"
	Unavailable     Code = "unavailable"
	Internal        Code = "internal"
)

// Error carries a code and a message that is safe to show to clients.
// The wrapped error (if any) is for logs only.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a code and a client-safe message.
func New(code Code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a code and client-safe message to an underlying error.
func Wrap(code Code, err error, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf returns the client-safe message of err. Errors without a code
// get a generic message, so internal details never reach clients.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal server error"
}

// Is reports whether err carries code.
func Is(err error, code Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
