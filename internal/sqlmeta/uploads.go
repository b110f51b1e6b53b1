package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

const uploadCols = `id, kind, target, blob_upload_id, state, user_id, created_at, expires_at, lease_holder, lease_until`

func scanUpload(r scanner) (meta.Upload, error) {
	var u meta.Upload
	var created, expires, until int64
	err := r.Scan(&u.ID, &u.Kind, &u.Target, &u.BlobUploadID, &u.State, &u.UserID, &created, &expires, &u.LeaseHolder, &until)
	u.CreatedAt, u.ExpiresAt, u.LeaseUntil = fromDB(created), fromDB(expires), fromDB(until)
	return u, err
}

func (s *Store) CreateUpload(ctx context.Context, u *meta.Upload) error {
	if u.ID == "" {
		u.ID = newID()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	if u.State == "" {
		u.State = "{}"
	}
	_, err := s.exec(ctx, "upload", `INSERT INTO uploads (`+uploadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Kind, u.Target, u.BlobUploadID, u.State, u.UserID, toDB(u.CreatedAt), toDB(u.ExpiresAt), u.LeaseHolder, toDB(u.LeaseUntil))
	return err
}

func (s *Store) GetUpload(ctx context.Context, id string) (meta.Upload, error) {
	u, err := scanUpload(s.queryRow(ctx, `SELECT `+uploadCols+` FROM uploads WHERE id = ?`, id))
	return u, mapErr(err, "upload")
}

func (s *Store) UpdateUpload(ctx context.Context, u *meta.Upload) error {
	return s.execOne(ctx, "upload", `UPDATE uploads SET target = ?, blob_upload_id = ?, state = ?, expires_at = ? WHERE id = ?`,
		u.Target, u.BlobUploadID, u.State, toDB(u.ExpiresAt), u.ID)
}

// ClaimUpload takes the lease and reads the row in one statement: every
// request on a session starts with it.
func (s *Store) ClaimUpload(ctx context.Context, id, holder string, until, at time.Time) (meta.Upload, error) {
	u, err := scanUpload(s.writeRow(ctx, `UPDATE uploads SET lease_holder = ?, lease_until = ?
		WHERE id = ? AND (lease_holder = '' OR lease_holder = ? OR lease_until < ?) RETURNING `+uploadCols,
		holder, toDB(until), id, holder, toDB(at)))
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return u, mapErr(err, "upload")
	}
	if _, err := s.GetUpload(ctx, id); err != nil {
		return meta.Upload{}, err
	}
	return meta.Upload{}, apperr.E(apperr.Unavailable, apperr.Upload, "upload session is busy with another request")
}

func (s *Store) ReleaseUpload(ctx context.Context, u *meta.Upload, holder string) error {
	res, err := s.exec(ctx, "upload", `UPDATE uploads SET target = ?, blob_upload_id = ?, state = ?, expires_at = ?,
		lease_holder = '', lease_until = 0 WHERE id = ? AND lease_holder = ?`,
		u.Target, u.BlobUploadID, u.State, toDB(u.ExpiresAt), u.ID, holder)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		u.LeaseHolder, u.LeaseUntil = "", time.Time{}
		return mapErr(err, "upload")
	}
	if _, err := s.GetUpload(ctx, u.ID); err != nil {
		return err
	}
	return apperr.E(apperr.Conflict, apperr.Upload, "upload session changed by another request")
}

func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	return s.execOne(ctx, "upload", `DELETE FROM uploads WHERE id = ?`, id)
}

func (s *Store) ListExpiredUploads(ctx context.Context, before time.Time) ([]meta.Upload, error) {
	return queryAll(ctx, s, "uploads", scanUpload, `SELECT `+uploadCols+` FROM uploads WHERE expires_at > 0 AND expires_at < ? ORDER BY expires_at`, toDB(before))
}

func (s *Store) ListUploadsFor(ctx context.Context, kind, target string) ([]meta.Upload, error) {
	return queryAll(ctx, s, "uploads", scanUpload, `SELECT `+uploadCols+` FROM uploads WHERE kind = ? AND target = ? ORDER BY created_at DESC, id`, kind, target)
}
