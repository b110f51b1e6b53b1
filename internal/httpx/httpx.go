// Package httpx holds the small HTTP plumbing every transport shares:
// handlers that return errors, request identity, and the public base URL.
package httpx

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/silo-hpc/silo/internal/logctx"
)

// Handler is an HTTP handler that returns an error; each transport turns
// errors into its protocol's body with one ErrorWriter.
type Handler func(w http.ResponseWriter, r *http.Request) error

// ErrorWriter writes err in a protocol's error format.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Adapt turns h into an http.Handler that reports errors with ew.
func Adapt(ew ErrorWriter, h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			ew(w, r, err)
		}
	})
}

type ctxKey int

const requestIDKey ctxKey = iota

// WithLogger returns ctx carrying a request-scoped logger.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context { return logctx.With(ctx, l) }

// Logger returns the request-scoped logger, or the default one.
func Logger(ctx context.Context) *slog.Logger { return logctx.From(ctx) }

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// BaseURL returns the external base URL (scheme://host[/prefix], no
// trailing slash): the configured public URL, or one derived from the
// request when none is configured.
func BaseURL(r *http.Request, public string) string {
	if public != "" {
		return strings.TrimRight(public, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

// BearerToken returns the token of an "Authorization: Bearer" header,
// matching the scheme case-insensitively (old Sylabs clients send BEARER).
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
