package auth

import (
	"context"
	"unicode/utf8"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// Account management as the web UI and the account API ask for it: each
// method takes the caller and applies the rule (administrators manage
// accounts; every user manages their own password and tokens). The
// methods without a caller (CreateUser, SetPassword, ...) are the
// server operator's, for `silo admin` on the server's shell.

// Password length limits for passwords set through the UI and the API.
const (
	MinPassword = 8
	MaxPassword = 1024
)

// RequireUser refuses anonymous callers.
func RequireUser(p Principal) error {
	if p.Anonymous() {
		return apperr.New(apperr.Unauthenticated, "authentication required: log in")
	}
	return nil
}

// RequireAdmin refuses callers who are not administrators.
func RequireAdmin(p Principal) error {
	if err := RequireUser(p); err != nil {
		return err
	}
	if !p.IsAdmin() {
		return apperr.New(apperr.Denied, "permission denied: only administrators may do this")
	}
	return nil
}

func checkNewPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPassword || len(pw) > MaxPassword {
		return apperr.New(apperr.Invalid, "a password needs %d to %d characters", MinPassword, MaxPassword)
	}
	return nil
}

// Users lists every account: administrators.
func (s *Service) Users(ctx context.Context, p Principal) ([]meta.User, error) {
	if err := RequireAdmin(p); err != nil {
		return nil, err
	}
	return s.store.ListUsers(ctx)
}

// User returns one account: its owner and administrators.
func (s *Service) User(ctx context.Context, p Principal, name string) (meta.User, error) {
	if err := RequireUser(p); err != nil {
		return meta.User{}, err
	}
	if !p.IsAdmin() && p.Name != name {
		return meta.User{}, apperr.New(apperr.Denied, "permission denied: you may only see your own account")
	}
	u, err := s.store.GetUserByName(ctx, name)
	if apperr.Is(err, apperr.NotFound) {
		return u, apperr.New(apperr.NotFound, "user %s not found", name)
	}
	return u, err
}

// AddUser creates an account: administrators. The password may be empty
// (an account that uses tokens only) or between MinPassword and
// MaxPassword characters.
func (s *Service) AddUser(ctx context.Context, p Principal, name string, role meta.Role, password string) (meta.User, error) {
	if err := RequireAdmin(p); err != nil {
		return meta.User{}, err
	}
	if password != "" {
		if err := checkNewPassword(password); err != nil {
			return meta.User{}, err
		}
	}
	u, err := s.CreateUser(ctx, name, role, password)
	if apperr.Is(err, apperr.Conflict) {
		return u, apperr.Wrap(apperr.Conflict, err, "user %s already exists", name)
	}
	return u, err
}

// UserChange changes an account; nil fields stay.
type UserChange struct {
	Role     *meta.Role
	Disabled *bool
	// Password resets the password; "" removes it (tokens only).
	Password *string
}

// ChangeUser changes an account: administrators, never their own role
// or enabled state (so a server cannot lose its last administrator by
// accident). Disabling an account or resetting its password ends its
// browser sessions; a disabled account's tokens stop working too.
func (s *Service) ChangeUser(ctx context.Context, p Principal, name string, c UserChange) (meta.User, error) {
	if err := RequireAdmin(p); err != nil {
		return meta.User{}, err
	}
	if c.Role != nil && !c.Role.Valid() {
		return meta.User{}, apperr.New(apperr.Invalid, "invalid role %q: want admin, manager or user", *c.Role)
	}
	if c.Password != nil && *c.Password != "" {
		if err := checkNewPassword(*c.Password); err != nil {
			return meta.User{}, err
		}
	}
	var u meta.User
	err := meta.Tx(ctx, s.store, func(tx Store) error {
		var err error
		if u, err = tx.GetUserByName(ctx, name); apperr.Is(err, apperr.NotFound) {
			return apperr.New(apperr.NotFound, "user %s not found", name)
		} else if err != nil {
			return err
		}
		if u.ID == p.UserID && ((c.Role != nil && *c.Role != u.Role) || (c.Disabled != nil && *c.Disabled)) {
			return apperr.New(apperr.Denied, "permission denied: you may not change your own role or disable yourself")
		}
		endSessions := applyUserChange(&u, c)
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		if endSessions {
			return tx.DeleteUserSessions(ctx, u.ID)
		}
		return nil
	})
	return u, err
}

// applyUserChange applies c to u and reports whether u's sessions must
// end.
func applyUserChange(u *meta.User, c UserChange) bool {
	end := false
	if c.Role != nil {
		u.Role = *c.Role
	}
	if c.Disabled != nil {
		end = *c.Disabled && !u.Disabled
		u.Disabled = *c.Disabled
	}
	if c.Password != nil {
		u.PasswordHash = ""
		if *c.Password != "" {
			u.PasswordHash = HashPassword(*c.Password)
		}
		end = true
	}
	return end
}

// ChangeOwnPassword replaces the caller's password after checking the
// current one (a stolen session alone cannot take the account over).
// The caller's other sessions end; the one making the change is kept by
// the caller logging in again.
func (s *Service) ChangeOwnPassword(ctx context.Context, p Principal, current, next string) error {
	if err := RequireUser(p); err != nil {
		return err
	}
	if err := checkNewPassword(next); err != nil {
		return err
	}
	if _, err := s.checkPasswordOnly(ctx, p.Name, current); err != nil {
		if apperr.Is(err, apperr.Unauthenticated) {
			return apperr.New(apperr.Invalid, "the current password is wrong")
		}
		return err
	}
	return meta.Tx(ctx, s.store, func(tx Store) error {
		u, err := tx.GetUser(ctx, p.UserID)
		if err != nil {
			return err
		}
		u.PasswordHash = HashPassword(next)
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		return tx.DeleteUserSessions(ctx, u.ID)
	})
}
