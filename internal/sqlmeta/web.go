package sqlmeta

import (
	"context"
	"time"

	"github.com/silo-hpc/silo/internal/meta"
)

// Browser sessions, failed log-ins and live settings
// (0006_web.sql; the rules are internal/auth's and internal/access's).

const sessionCols = `id, user_id, hash, created_at, last_seen_at, expires_at`

func (s *Store) CreateSession(ctx context.Context, ss *meta.Session) error {
	if ss.ID == "" {
		ss.ID = newID()
	}
	if ss.CreatedAt.IsZero() {
		ss.CreatedAt = now()
	}
	_, err := s.exec(ctx, "session", `INSERT INTO web_sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		ss.ID, ss.UserID, ss.Hash, toDB(ss.CreatedAt), toDB(ss.LastSeenAt), toDB(ss.ExpiresAt))
	return err
}

func (s *Store) GetSessionByHash(ctx context.Context, hash string) (meta.Session, meta.User, error) {
	var ss meta.Session
	var u meta.User
	var created, seen, expires, ucreated int64
	err := s.queryRow(ctx, `SELECT `+qualify("w", sessionCols)+`, `+qualify("u", userCols)+`
		FROM web_sessions w JOIN users u ON u.id = w.user_id WHERE w.hash = ?`, hash).
		Scan(&ss.ID, &ss.UserID, &ss.Hash, &created, &seen, &expires,
			&u.ID, &u.Name, &u.Email, &u.Role, &u.PasswordHash, &u.Disabled, &ucreated)
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt, u.CreatedAt = fromDB(created), fromDB(seen), fromDB(expires), fromDB(ucreated)
	return ss, u, mapErr(err, "session")
}

func (s *Store) TouchSession(ctx context.Context, id string, at, expires time.Time) error {
	return s.execOne(ctx, "session", `UPDATE web_sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`,
		toDB(at), toDB(expires), id)
}

func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.execOne(ctx, "session", `DELETE FROM web_sessions WHERE id = ?`, id)
}

func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := s.exec(ctx, "sessions", `DELETE FROM web_sessions WHERE user_id = ?`, userID)
	return err
}

func (s *Store) DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error) {
	res, err := s.exec(ctx, "expired sessions", `DELETE FROM web_sessions WHERE expires_at < ?`, toDB(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), mapErr(err, "expired sessions")
}

func scanLoginFailures(r scanner) (meta.LoginFailures, error) {
	var f meta.LoginFailures
	var last int64
	err := r.Scan(&f.Key, &f.Count, &last)
	f.LastAt = fromDB(last)
	return f, err
}

func (s *Store) GetLoginFailures(ctx context.Context, keys ...string) ([]meta.LoginFailures, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	in, args := inList(keys)
	return queryAll(ctx, s, "login failures", scanLoginFailures,
		`SELECT key, failures, last_at FROM login_failures WHERE key IN `+in+` ORDER BY key`, args...)
}

// AddLoginFailure is one statement, so concurrent failures under one key
// (an attacker's parallel guesses) each count.
func (s *Store) AddLoginFailure(ctx context.Context, key string, at, since time.Time) (meta.LoginFailures, error) {
	f, err := scanLoginFailures(s.writeRow(ctx, `INSERT INTO login_failures (key, failures, last_at) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN login_failures.last_at < ? THEN 1 ELSE login_failures.failures + 1 END,
			last_at = excluded.last_at
		RETURNING key, failures, last_at`, key, toDB(at), toDB(since)))
	return f, mapErr(err, "login failure")
}

func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	_, err := s.exec(ctx, "login failures", `DELETE FROM login_failures WHERE key = ?`, key)
	return err
}

func (s *Store) GetSettings(ctx context.Context) (map[string]string, error) {
	type kv struct{ k, v string }
	rows, err := queryAll(ctx, s, "settings", func(r scanner) (kv, error) {
		var p kv
		return p, r.Scan(&p.k, &p.v)
	}, `SELECT key, value FROM settings ORDER BY key`)
	out := make(map[string]string, len(rows))
	for _, p := range rows {
		out[p.k] = p.v
	}
	return out, err
}

func (s *Store) PutSetting(ctx context.Context, key, value string) error {
	_, err := s.exec(ctx, "setting "+key, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}
