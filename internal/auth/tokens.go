package auth

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// API tokens as their owners manage them (the token page, the account
// API).

// Token limits.
const (
	MaxTokenLabel = 100
	// MaxTokenTTL bounds the expiry a caller may choose (0 is no expiry).
	MaxTokenTTL = 10 * 366 * 24 * time.Hour
)

// CreateToken issues an API token for the caller; the secret is returned
// once. ttl 0 means no expiry.
func (s *Service) CreateToken(ctx context.Context, p Principal, label string, ttl time.Duration) (string, meta.Token, error) {
	if err := RequireUser(p); err != nil {
		return "", meta.Token{}, err
	}
	if utf8.RuneCountInString(label) > MaxTokenLabel {
		return "", meta.Token{}, apperr.New(apperr.Invalid, "a token label has at most %d characters", MaxTokenLabel)
	}
	if ttl < 0 || ttl > MaxTokenTTL {
		return "", meta.Token{}, apperr.New(apperr.Invalid, "a token expires within %d days, or never", MaxTokenTTL/(24*time.Hour))
	}
	return s.IssueToken(ctx, p.Name, label, ttl)
}

// Tokens lists the caller's tokens, newest first, revoked ones
// included (so the page shows what was revoked).
func (s *Service) Tokens(ctx context.Context, p Principal) ([]meta.Token, error) {
	if err := RequireUser(p); err != nil {
		return nil, err
	}
	ts, err := s.store.ListTokens(ctx, p.UserID)
	for i, j := 0, len(ts)-1; i < j; i, j = i+1, j-1 {
		ts[i], ts[j] = ts[j], ts[i]
	}
	return ts, err
}

// Revoke revokes one of the caller's tokens (administrators: anyone's).
// Someone else's token answers as a missing one. It counts from the next
// request (CheckToken and Verify read the row every time).
func (s *Service) Revoke(ctx context.Context, p Principal, id string) error {
	if err := RequireUser(p); err != nil {
		return err
	}
	t, _, err := s.store.GetToken(ctx, id)
	if apperr.Is(err, apperr.NotFound) || (err == nil && t.UserID != p.UserID && !p.IsAdmin()) {
		return apperr.New(apperr.NotFound, "token %s not found", id)
	}
	if err != nil {
		return err
	}
	return s.store.RevokeToken(ctx, id)
}
