package oci

import (
	"errors"

	"github.com/silo-hpc/silo/internal/apperr"
)

// ErrorCode is an OCI error code (spec "Error Codes").
type ErrorCode string

const (
	CodeBlobUnknown         ErrorCode = "BLOB_UNKNOWN"
	CodeBlobUploadInvalid   ErrorCode = "BLOB_UPLOAD_INVALID"
	CodeBlobUploadUnknown   ErrorCode = "BLOB_UPLOAD_UNKNOWN"
	CodeDigestInvalid       ErrorCode = "DIGEST_INVALID"
	CodeManifestBlobUnknown ErrorCode = "MANIFEST_BLOB_UNKNOWN"
	CodeManifestInvalid     ErrorCode = "MANIFEST_INVALID"
	CodeManifestUnknown     ErrorCode = "MANIFEST_UNKNOWN"
	CodeNameInvalid         ErrorCode = "NAME_INVALID"
	CodeNameUnknown         ErrorCode = "NAME_UNKNOWN"
	CodeSizeInvalid         ErrorCode = "SIZE_INVALID"
	CodeUnauthorized        ErrorCode = "UNAUTHORIZED"
	CodeDenied              ErrorCode = "DENIED"
	CodeUnsupported         ErrorCode = "UNSUPPORTED"
	CodeTooManyRequests     ErrorCode = "TOOMANYREQUESTS"
)

// Error tells the OCI transport which error code applies to an apperr
// error, from context only the service has (an unknown name vs an unknown
// blob are both apperr.NotFound). apperr stays the error model: Error
// unwraps to the apperr error, so apperr.CodeOf and MessageOf see through it.
type Error struct {
	Code ErrorCode
	// Challenge is set on authentication errors: what to put in the
	// WWW-Authenticate header so the client can get a better token.
	Challenge *Challenge
	Err       error
}

// Challenge describes a Bearer challenge (RFC 6750 §3, notes §3.1).
type Challenge struct {
	Scope             string // e.g. "repository:a/b:pull,push"; "" for none
	InsufficientScope bool   // a token was presented but lacks the scope
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an apperr error of class code carrying the OCI code oc.
func Errorf(oc ErrorCode, code apperr.Code, format string, args ...any) error {
	return &Error{Code: oc, Err: apperr.New(code, format, args...)}
}

// WithCode attaches the OCI code oc to err, keeping err's apperr class.
func WithCode(oc ErrorCode, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: oc, Err: err}
}

// CodeOf returns the OCI code attached to err, or "" when none is.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ChallengeOf returns the challenge attached to err, if any.
func ChallengeOf(err error) *Challenge {
	var e *Error
	for err != nil {
		if !errors.As(err, &e) {
			return nil
		}
		if e.Challenge != nil {
			return e.Challenge
		}
		err = e.Err
	}
	return nil
}

// Unauthorized returns the error for a request whose credentials do not
// allow scope; insufficient tells the client a token was presented.
func Unauthorized(scope string, insufficient bool) error {
	msg := "authentication required"
	if insufficient {
		msg = "insufficient scope"
	}
	return &Error{
		Code:      CodeUnauthorized,
		Challenge: &Challenge{Scope: scope, InsufficientScope: insufficient},
		Err:       apperr.New(apperr.Unauthenticated, "%s", msg),
	}
}

// RepositoryScope formats a repository scope for a challenge.
func RepositoryScope(name string, actions ...string) string {
	s := "repository:" + name + ":"
	for i, a := range actions {
		if i > 0 {
			s += ","
		}
		s += a
	}
	return s
}
