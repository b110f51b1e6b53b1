package meta

import (
	"context"
	"time"
)

// Session is a browser session of the web UI. The cookie carries a
// random secret; only its SHA-256 (Hash) is stored, as for API tokens.
type Session struct {
	ID         string
	UserID     string
	Hash       string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is when the session ends unless a request extends it
	// (never past the absolute limit the auth service keeps).
	ExpiresAt time.Time
}

// Sessions stores browser sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s *Session) error
	// GetSessionByHash returns a session with its user, in one query:
	// every page a signed-in browser loads asks.
	GetSessionByHash(ctx context.Context, hash string) (Session, User, error)
	// TouchSession records a request at `at` and moves the expiry.
	TouchSession(ctx context.Context, id string, at, expires time.Time) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions ends every session of a user (a disabled
	// account, a password reset).
	DeleteUserSessions(ctx context.Context, userID string) error
	// DeleteExpiredSessions removes sessions that expired before the
	// given time and returns how many.
	DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error)
}

// LoginFailures is the failed log-ins recorded under one key (a user
// name, a client address) since the last success or quiet period.
type LoginFailures struct {
	Key    string
	Count  int
	LastAt time.Time
}

// LoginThrottle stores failed log-ins, so every replica applies the same
// delay (internal/auth decides it).
type LoginThrottle interface {
	// GetLoginFailures returns the records of the keys that have one.
	GetLoginFailures(ctx context.Context, keys ...string) ([]LoginFailures, error)
	// AddLoginFailure counts one more failure under key at `at`. A
	// record whose last failure is before `since` starts again from 1.
	AddLoginFailure(ctx context.Context, key string, at, since time.Time) (LoginFailures, error)
	// ClearLoginFailures forgets key's failures (NotFound is not an error).
	ClearLoginFailures(ctx context.Context, key string) error
}

// Settings stores the server settings an administrator changes while it
// runs (internal/access reads them over the configuration's defaults).
type Settings interface {
	// GetSettings returns every stored setting by key.
	GetSettings(ctx context.Context) (map[string]string, error)
	// PutSetting creates or replaces one setting.
	PutSetting(ctx context.Context, key, value string) error
}
