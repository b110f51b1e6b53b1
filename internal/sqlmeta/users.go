package sqlmeta

import (
	"context"
	"time"

	"github.com/silo-hpc/silo/internal/meta"
)

const userCols = `id, name, email, role, password_hash, disabled, created_at`

func scanUser(r scanner) (meta.User, error) {
	var u meta.User
	var created int64
	err := r.Scan(&u.ID, &u.Name, &u.Email, &u.Role, &u.PasswordHash, &u.Disabled, &created)
	u.CreatedAt = fromDB(created)
	return u, err
}

func (s *Store) CreateUser(ctx context.Context, u *meta.User) error {
	if u.ID == "" {
		u.ID = newID()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	_, err := s.exec(ctx, "user "+u.Name, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.Email, string(u.Role), u.PasswordHash, u.Disabled, toDB(u.CreatedAt))
	return err
}

// GetUser is read by every request a registry token carries without an
// API token (auth.Verify): kept in the read cache (readcache.go) while the
// database does not change, so a disabled account counts at once.
func (s *Store) GetUser(ctx context.Context, id string) (meta.User, error) {
	return cachedRead(s, s.usersByID, id, func() (meta.User, error) {
		u, err := scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
		return u, mapErr(err, "user")
	})
}

func (s *Store) GetUserByName(ctx context.Context, name string) (meta.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	return u, mapErr(err, "user "+name)
}

func (s *Store) ListUsers(ctx context.Context) ([]meta.User, error) {
	return queryAll(ctx, s, "users", scanUser, `SELECT `+userCols+` FROM users ORDER BY name`)
}

func (s *Store) UpdateUser(ctx context.Context, u *meta.User) error {
	return s.execOne(ctx, "user "+u.Name, `UPDATE users SET name = ?, email = ?, role = ?, password_hash = ?, disabled = ? WHERE id = ?`,
		u.Name, u.Email, string(u.Role), u.PasswordHash, u.Disabled, u.ID)
}

func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, mapErr(err, "users")
}

const tokenCols = `id, user_id, label, hash, created_at, last_used_at, expires_at, revoked`

func scanToken(r scanner) (meta.Token, error) {
	var t meta.Token
	var created, used, expires int64
	err := r.Scan(&t.ID, &t.UserID, &t.Label, &t.Hash, &created, &used, &expires, &t.Revoked)
	t.CreatedAt, t.LastUsedAt, t.ExpiresAt = fromDB(created), fromDB(used), fromDB(expires)
	return t, err
}

func (s *Store) CreateToken(ctx context.Context, t *meta.Token) error {
	if t.ID == "" {
		t.ID = newID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	_, err := s.exec(ctx, "token", `INSERT INTO tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.UserID, t.Label, t.Hash, toDB(t.CreatedAt), toDB(t.LastUsedAt), toDB(t.ExpiresAt), t.Revoked)
	return err
}

// tokenUserCols reads a token and its user in one joined row.
var tokenUserCols = qualify("t", tokenCols) + ", " + qualify("u", userCols)

func scanTokenUser(r scanner) (meta.Token, meta.User, error) {
	var t meta.Token
	var u meta.User
	var created, used, expires, ucreated int64
	err := r.Scan(&t.ID, &t.UserID, &t.Label, &t.Hash, &created, &used, &expires, &t.Revoked,
		&u.ID, &u.Name, &u.Email, &u.Role, &u.PasswordHash, &u.Disabled, &ucreated)
	t.CreatedAt, t.LastUsedAt, t.ExpiresAt, u.CreatedAt = fromDB(created), fromDB(used), fromDB(expires), fromDB(ucreated)
	return t, u, mapErr(err, "token")
}

// GetTokenByHash and GetToken are read by every authenticated request:
// their answers are kept in the read cache (readcache.go) while the
// database does not change, so a revocation counts at once.
func (s *Store) GetTokenByHash(ctx context.Context, hash string) (meta.Token, meta.User, error) {
	return s.tokenUser(ctx, s.tokensByHash, `t.hash = ?`, hash)
}

func (s *Store) GetToken(ctx context.Context, id string) (meta.Token, meta.User, error) {
	return s.tokenUser(ctx, s.tokensByID, `t.id = ?`, id)
}

// tokenUser is a token with its owner, as the read cache keeps them.
type tokenUser struct {
	t meta.Token
	u meta.User
}

func (s *Store) tokenUser(ctx context.Context, c *readCache[string, tokenUser], where, key string) (meta.Token, meta.User, error) {
	tu, err := cachedRead(s, c, key, func() (tokenUser, error) {
		t, u, err := scanTokenUser(s.queryRow(ctx, `SELECT `+tokenUserCols+` FROM tokens t JOIN users u ON u.id = t.user_id WHERE `+where, key))
		return tokenUser{t, u}, err
	})
	return tu.t, tu.u, err
}

func (s *Store) ListTokens(ctx context.Context, userID string) ([]meta.Token, error) {
	return queryAll(ctx, s, "tokens", scanToken, `SELECT `+tokenCols+` FROM tokens WHERE user_id = ? ORDER BY created_at, id`, userID)
}

func (s *Store) RevokeToken(ctx context.Context, id string) error {
	return s.execOne(ctx, "token "+id, `UPDATE tokens SET revoked = TRUE WHERE id = ?`, id)
}

func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "token "+id, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, toDB(at), id)
}
