// Package apperr is Silo's one error model. Services return an error class
// (Code) and, where a protocol needs to know, what the error is about
// (Subject), wrapped with %w and context; each transport maps (Code,
// Subject) to its protocol's error body in exactly one place.
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

// Subject says what an error is about, in protocol-neutral words, so a
// transport can choose a precise code (OCI's BLOB_UNKNOWN and
// MANIFEST_UNKNOWN are both NotFound). The zero Subject means the request
// as a whole.
type Subject string

const (
	// Repository: a repository or library container (its name, its
	// existence, access to it).
	Repository Subject = "repository"
	// Name: the syntax of a repository or library name.
	Name Subject = "name"
	// Blob: a blob a request names; with Invalid, a blob a manifest names
	// that is not there.
	Blob Subject = "blob"
	// Manifest: a manifest a request names or sends.
	Manifest Subject = "manifest"
	// Upload: an upload session, or the bytes it received.
	Upload Subject = "upload"
	// Digest: a digest's syntax, or content that does not match it.
	Digest Subject = "digest"
	// Range: a byte range that does not fit (a chunk out of order, an
	// unsatisfiable read).
	Range Subject = "range"
	// Scope: with Unauthenticated, credentials that are valid but do not
	// cover the request (a bearer token without the action).
	Scope Subject = "scope"
	// Size: a declared size that is wrong.
	Size Subject = "size"
	// Quota: a storage quota (with Denied: a push over it).
	Quota Subject = "quota"
)

// Error carries a class, a subject and a message that is safe to show to
// clients. The wrapped error (if any) is for logs only.
type Error struct {
	Code    Code
	Subject Subject
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

// E returns an error of class code about subject.
func E(code Code, subject Subject, format string, args ...any) error {
	return &Error{Code: code, Subject: subject, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a code and client-safe message to an underlying error.
func Wrap(code Code, err error, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// About says what err is about, keeping its class and message. A nil err
// stays nil; an error that already has a subject keeps it.
func About(subject Subject, err error) error {
	var e *Error
	if err == nil || (errors.As(err, &e) && e.Subject != "") {
		return err
	}
	return &Error{Code: CodeOf(err), Subject: subject, Message: MessageOf(err), Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// SubjectOf returns the first subject in err's chain, or "".
func SubjectOf(err error) Subject {
	var e *Error
	for err != nil && errors.As(err, &e) {
		if e.Subject != "" {
			return e.Subject
		}
		err = e.Err
	}
	return ""
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
