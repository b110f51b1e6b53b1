// Package auth holds Silo's identity rules: accounts, password and token
// checks, and the principal every request acts as.
package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"sync"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/names"
)

// Principal is who a request acts as. The zero value is anonymous.
type Principal struct {
	UserID string
	Name   string
	Role   meta.Role
	// TokenID is the API token the request authenticated with ("" for a
	// password): what it derives from it (registry tokens) ends with it.
	TokenID string
}

// Anonymous reports whether no user is authenticated.
func (p Principal) Anonymous() bool { return p.UserID == "" }

// IsAdmin reports whether p has the admin role.
func (p Principal) IsAdmin() bool { return p.Role == meta.RoleAdmin }

func principalOf(u meta.User) Principal {
	return Principal{UserID: u.ID, Name: u.Name, Role: u.Role}
}

// Store is what accounts need of the metadata store.
type Store interface {
	meta.Users
	meta.Tokens
	meta.Sessions
	meta.LoginThrottle
	meta.Teams
	meta.Transactor
}

// Service checks credentials and manages accounts and tokens.
type Service struct {
	store Store
	now   func() time.Time
}

// New returns an auth service over store.
func New(store Store) *Service {
	return &Service{store: store, now: func() time.Time { return time.Now().UTC() }}
}

// CreateUser adds an account. An empty password leaves the account
// usable only with tokens.
func (s *Service) CreateUser(ctx context.Context, name string, role meta.Role, password string) (meta.User, error) {
	if !names.Valid(name) || len(name) > 64 {
		return meta.User{}, apperr.New(apperr.Invalid, "invalid user name %q: use lowercase letters, digits and . _ - separators", name)
	}
	if !role.Valid() {
		return meta.User{}, apperr.New(apperr.Invalid, "invalid role %q: want admin, manager or user", role)
	}
	u := meta.User{Name: name, Role: role}
	if password != "" {
		u.PasswordHash = HashPassword(password)
	}
	if err := s.store.CreateUser(ctx, &u); err != nil {
		return meta.User{}, err
	}
	return u, nil
}

// SetPassword replaces a user's password.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	u, err := s.store.GetUserByName(ctx, name)
	if err != nil {
		return err
	}
	u.PasswordHash = HashPassword(password)
	return s.store.UpdateUser(ctx, &u)
}

// SetDisabled disables or re-enables a user; a disabled user's password
// and tokens stop working.
func (s *Service) SetDisabled(ctx context.Context, name string, disabled bool) error {
	u, err := s.store.GetUserByName(ctx, name)
	if err != nil {
		return err
	}
	u.Disabled = disabled
	return s.store.UpdateUser(ctx, &u)
}

var errBadCredentials = apperr.New(apperr.Unauthenticated, "invalid credentials")

// CheckPassword authenticates a username and password. The password may
// also be one of the user's API tokens, so tools that only speak Basic auth
// (skopeo, podman, oras) can use tokens.
func (s *Service) CheckPassword(ctx context.Context, name, password string) (Principal, error) {
	if password == "" || name == "" {
		return Principal{}, errBadCredentials
	}
	if p, err := s.CheckToken(ctx, password); err == nil {
		if p.Name != name {
			return Principal{}, errBadCredentials
		}
		return p, nil
	}
	return s.checkPasswordOnly(ctx, name, password)
}

// checkPasswordOnly checks a user's password (never a token).
func (s *Service) checkPasswordOnly(ctx context.Context, name, password string) (Principal, error) {
	u, err := s.store.GetUserByName(ctx, name)
	if apperr.Is(err, apperr.NotFound) {
		// Spend the same time as a real check so user names cannot be probed.
		_, _ = verifyPassword(dummyHash(), password)
		return Principal{}, errBadCredentials
	}
	if err != nil {
		return Principal{}, err
	}
	if u.Disabled || u.PasswordHash == "" {
		// Same cost again: timing must not tell which accounts are disabled.
		_, _ = verifyPassword(dummyHash(), password)
		return Principal{}, errBadCredentials
	}
	ok, err := verifyPassword(u.PasswordHash, password)
	if err != nil || !ok {
		return Principal{}, errBadCredentials
	}
	return principalOf(u), nil
}

// dummyHash is what an unknown or disabled account's password is checked
// against, so a failed check always costs one argon2id hash. It is made
// on first use: computing it at package initialisation cost every `silo`
// command, client ones included, 74 ms and 20 MB.
var dummyHash = sync.OnceValue(func() string { return HashPassword("silo-dummy-password") })

// verifyPassword is VerifyPassword; tests count its calls to check that
// every way of failing a password check costs one argon2id hash.
var verifyPassword = VerifyPassword

// touchEvery limits last-used writes to one per token per interval.
const touchEvery = time.Minute

// CheckToken authenticates an API token: one indexed query per request
// (the token with its owner), so a revocation, an expiry or a disabled
// account counts from the very next request, whichever process or
// replica made it.
func (s *Service) CheckToken(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, errBadCredentials
	}
	h := HashToken(token)
	t, u, err := s.store.GetTokenByHash(ctx, h)
	if apperr.Is(err, apperr.NotFound) {
		return Principal{}, errBadCredentials
	}
	if err != nil {
		return Principal{}, err
	}
	// The lookup was by hash; compare again in constant time so a database
	// collation quirk can never match a different token.
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) != 1 {
		return Principal{}, errBadCredentials
	}
	now := s.now()
	p, err := live(t, u, now)
	if err != nil {
		return p, err
	}
	if now.Sub(t.LastUsedAt) > touchEvery {
		if err := s.store.TouchToken(ctx, t.ID, now); err != nil {
			return Principal{}, err
		}
	}
	return p, nil
}

// live checks a token and its owner can act now.
func live(t meta.Token, u meta.User, now time.Time) (Principal, error) {
	if t.Revoked || u.Disabled {
		return Principal{}, errBadCredentials
	}
	if !t.ExpiresAt.IsZero() && now.After(t.ExpiresAt) {
		return Principal{}, apperr.New(apperr.Unauthenticated, "token expired")
	}
	p := principalOf(u)
	p.TokenID = t.ID
	return p, nil
}

// Verify checks again, for a request, a principal established earlier
// (one a registry bearer token carries): the account must still be
// enabled and, when p came from an API token, the token still live. One
// indexed query, so registry tokens end with what they came from at once.
// It returns the principal as it is now (a changed role counts at once).
func (s *Service) Verify(ctx context.Context, p Principal) (Principal, error) {
	if p.Anonymous() {
		return p, nil
	}
	if p.TokenID == "" {
		u, err := s.store.GetUser(ctx, p.UserID)
		if apperr.Is(err, apperr.NotFound) || (err == nil && u.Disabled) {
			return Principal{}, errBadCredentials
		}
		return principalOf(u), err
	}
	t, u, err := s.store.GetToken(ctx, p.TokenID)
	if apperr.Is(err, apperr.NotFound) || (err == nil && t.UserID != p.UserID) {
		return Principal{}, errBadCredentials
	}
	if err != nil {
		return Principal{}, err
	}
	return live(t, u, s.now())
}

// IssueToken creates an API token for a user and returns it in clear, the
// only time it is ever available. ttl 0 means no expiry.
func (s *Service) IssueToken(ctx context.Context, userName, label string, ttl time.Duration) (string, meta.Token, error) {
	return s.issueToken(ctx, userName, label, ttl, NewToken())
}

func (s *Service) issueToken(ctx context.Context, userName, label string, ttl time.Duration, secret string) (string, meta.Token, error) {
	u, err := s.store.GetUserByName(ctx, userName)
	if err != nil {
		return "", meta.Token{}, err
	}
	t := meta.Token{UserID: u.ID, Label: label, Hash: HashToken(secret)}
	if ttl > 0 {
		t.ExpiresAt = s.now().Add(ttl)
	}
	if err := s.store.CreateToken(ctx, &t); err != nil {
		return "", meta.Token{}, err
	}
	return secret, t, nil
}

// ListTokens lists a user's tokens (hashes only).
func (s *Service) ListTokens(ctx context.Context, userName string) ([]meta.Token, error) {
	u, err := s.store.GetUserByName(ctx, userName)
	if err != nil {
		return nil, err
	}
	return s.store.ListTokens(ctx, u.ID)
}

// RevokeToken revokes a token by id, at once: everything derived from it
// (registry tokens) stops working with the next request.
func (s *Service) RevokeToken(ctx context.Context, id string) error {
	return s.store.RevokeToken(ctx, id)
}

// Bootstrap is what EnsureAdmin created on first start.
type Bootstrap struct {
	Created  bool
	Password string // generated password, "" when it came from the caller
	Token    string // generated token, "" when it came from the caller
}

// EnsureAdmin creates user "admin" when the database has no users. A
// given password or token is used verbatim (automation); otherwise random
// ones are generated and returned once.
func (s *Service) EnsureAdmin(ctx context.Context, password, token string) (Bootstrap, error) {
	var b Bootstrap
	err := meta.Tx(ctx, s.store, func(tx Store) error {
		n, err := tx.CountUsers(ctx)
		if err != nil || n > 0 {
			return err
		}
		ts := &Service{store: tx, now: s.now}
		pw, tok := password, token
		if pw == "" {
			pw = NewPassword()
			b.Password = pw
		}
		if tok == "" {
			tok = NewToken()
			b.Token = tok
		}
		if _, err := ts.CreateUser(ctx, "admin", meta.RoleAdmin, pw); err != nil {
			return err
		}
		if _, _, err := ts.issueToken(ctx, "admin", "bootstrap", 0, tok); err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		b.Created = true
		return nil
	})
	return b, err
}

// ListUsers lists the accounts.
func (s *Service) ListUsers(ctx context.Context) ([]meta.User, error) {
	return s.store.ListUsers(ctx)
}
