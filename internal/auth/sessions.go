package auth

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// Browser sessions (the web UI). A session is a random secret in an
// HttpOnly cookie; the database keeps its SHA-256 only, and every request
// checks it with one indexed query (the session with its user), so a
// log-out, an expiry or a disabled account counts from the next request
// on every replica.
const (
	// SessionIdle ends a session nobody used for this long.
	SessionIdle = 12 * time.Hour
	// SessionMax ends every session this long after its log-in, however
	// busy.
	SessionMax = 7 * 24 * time.Hour
	// sessionTouchEvery limits last-seen writes to one per session per
	// interval (as touchEvery does for tokens).
	sessionTouchEvery = time.Minute
	// sessionBytes of randomness make a session secret (no "silo_"
	// prefix: it is not an API token and must not look like one).
	sessionBytes = 32
)

// Session is a signed-in browser.
type Session struct {
	// Secret is the cookie's value: only Login returns it.
	Secret    string
	Principal Principal
	ExpiresAt time.Time
}

var errNoSession = apperr.New(apperr.Unauthenticated, "your session has ended: log in again")

// Login checks a user name and password, applying the failed log-in
// delay (throttle.go), and opens a session. addr is the client's
// address, one of the keys failures are counted under. Tokens are not
// passwords here: a browser signs in with the password.
func (s *Service) Login(ctx context.Context, name, password, addr string) (Session, error) {
	now := s.now()
	keys := throttleKeys(name, addr)
	if err := s.throttled(ctx, keys, now); err != nil {
		return Session{}, err
	}
	p, err := s.checkPasswordOnly(ctx, name, password)
	if apperr.Is(err, apperr.Unauthenticated) {
		return Session{}, s.failedLogin(ctx, name, keys, now, err)
	}
	if err != nil {
		return Session{}, err
	}
	if err := s.store.ClearLoginFailures(ctx, keys.user); err != nil {
		return Session{}, err
	}
	secret := randomString(sessionBytes)
	ss := meta.Session{UserID: p.UserID, Hash: HashToken(secret), CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(SessionIdle)}
	if err := s.store.CreateSession(ctx, &ss); err != nil {
		return Session{}, err
	}
	return Session{Secret: secret, Principal: p, ExpiresAt: ss.ExpiresAt}, nil
}

// CheckSession authenticates a session cookie's secret. An idle session
// is extended (up to SessionMax after its log-in); an expired one is
// deleted.
func (s *Service) CheckSession(ctx context.Context, secret string) (Session, error) {
	if secret == "" {
		return Session{}, errNoSession
	}
	h := HashToken(secret)
	ss, u, err := s.store.GetSessionByHash(ctx, h)
	if apperr.Is(err, apperr.NotFound) {
		return Session{}, errNoSession
	}
	if err != nil {
		return Session{}, err
	}
	if subtle.ConstantTimeCompare([]byte(ss.Hash), []byte(h)) != 1 || u.Disabled {
		return Session{}, errNoSession
	}
	now := s.now()
	if !now.Before(ss.ExpiresAt) {
		if err := s.store.DeleteSession(ctx, ss.ID); err != nil && !apperr.Is(err, apperr.NotFound) {
			return Session{}, err
		}
		return Session{}, errNoSession
	}
	if now.Sub(ss.LastSeenAt) > sessionTouchEvery {
		ss.ExpiresAt = minTime(now.Add(SessionIdle), ss.CreatedAt.Add(SessionMax))
		if err := s.store.TouchSession(ctx, ss.ID, now, ss.ExpiresAt); err != nil && !apperr.Is(err, apperr.NotFound) {
			return Session{}, err
		}
	}
	return Session{Principal: principalOf(u), ExpiresAt: ss.ExpiresAt}, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Logout ends the session with this secret (an unknown one is already
// ended).
func (s *Service) Logout(ctx context.Context, secret string) error {
	if secret == "" {
		return nil
	}
	ss, _, err := s.store.GetSessionByHash(ctx, HashToken(secret))
	if apperr.Is(err, apperr.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.store.DeleteSession(ctx, ss.ID); err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	return nil
}

// SweepSessions deletes expired sessions and returns how many (the
// housekeeping schedule runs it).
func (s *Service) SweepSessions(ctx context.Context) (int, error) {
	return s.store.DeleteExpiredSessions(ctx, s.now())
}
