package sqlmeta

import (
	"context"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

const uploadCols = `id, kind, target, blob_upload_id, state, user_id, created_at, expires_at`

func scanUpload(r scanner) (meta.Upload, error) {
	var u meta.Upload
	var created, expires int64
	err := r.Scan(&u.ID, &u.Kind, &u.Target, &u.BlobUploadID, &u.State, &u.UserID, &created, &expires)
	u.CreatedAt, u.ExpiresAt = fromDB(created), fromDB(expires)
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
	_, err := s.exec(ctx, "upload", `INSERT INTO uploads (`+uploadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Kind, u.Target, u.BlobUploadID, u.State, u.UserID, toDB(u.CreatedAt), toDB(u.ExpiresAt))
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

func (s *Store) SwapUpload(ctx context.Context, u *meta.Upload, prevState string) error {
	res, err := s.exec(ctx, "upload", `UPDATE uploads SET target = ?, blob_upload_id = ?, state = ?, expires_at = ? WHERE id = ? AND state = ?`,
		u.Target, u.BlobUploadID, u.State, toDB(u.ExpiresAt), u.ID, prevState)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return mapErr(err, "upload")
	}
	if _, err := s.GetUpload(ctx, u.ID); err != nil {
		return err
	}
	return apperr.New(apperr.Conflict, "upload session changed by another request")
}

func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	return s.execOne(ctx, "upload", `DELETE FROM uploads WHERE id = ?`, id)
}

func (s *Store) ListExpiredUploads(ctx context.Context, before time.Time) ([]meta.Upload, error) {
	return queryAll(ctx, s, "uploads", scanUpload, `SELECT `+uploadCols+` FROM uploads WHERE expires_at > 0 AND expires_at < ? ORDER BY expires_at`, toDB(before))
}
