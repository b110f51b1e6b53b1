package sqlmeta

import (
	"context"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

func scanQuota(r scanner) (meta.Quota, error) {
	var q meta.Quota
	return q, r.Scan(&q.Kind, &q.SubjectID, &q.Limit)
}

func checkKind(kind string) error {
	if kind != meta.QuotaUser && kind != meta.QuotaCollection {
		return apperr.New(apperr.Invalid, "unknown quota kind %q", kind)
	}
	return nil
}

func (s *Store) SetQuota(ctx context.Context, q *meta.Quota) error {
	if err := checkKind(q.Kind); err != nil {
		return err
	}
	if q.Limit <= 0 {
		_, err := s.exec(ctx, "quota", `DELETE FROM quotas WHERE kind = ? AND subject_id = ?`, q.Kind, q.SubjectID)
		return err
	}
	_, err := s.exec(ctx, "quota", `INSERT INTO quotas (kind, subject_id, limit_bytes) VALUES (?, ?, ?)
		ON CONFLICT (kind, subject_id) DO UPDATE SET limit_bytes = excluded.limit_bytes`, q.Kind, q.SubjectID, q.Limit)
	return err
}

func (s *Store) GetQuota(ctx context.Context, kind, subjectID string) (meta.Quota, error) {
	q, err := scanQuota(s.queryRow(ctx, `SELECT kind, subject_id, limit_bytes FROM quotas WHERE kind = ? AND subject_id = ?`, kind, subjectID))
	return q, mapErr(err, "quota")
}

func (s *Store) ListQuotas(ctx context.Context) ([]meta.Quota, error) {
	return queryAll(ctx, s, "quotas", scanQuota, `SELECT kind, subject_id, limit_bytes FROM quotas ORDER BY kind, subject_id`)
}

func (s *Store) LockQuota(ctx context.Context, kind, subjectID string) (meta.Quota, error) {
	if !s.postgres {
		return s.GetQuota(ctx, kind, subjectID) // one writer at a time already
	}
	q, err := scanQuota(s.writeRow(ctx, `SELECT kind, subject_id, limit_bytes FROM quotas WHERE kind = ? AND subject_id = ? FOR UPDATE`, kind, subjectID))
	return q, mapErr(err, "quota")
}

// owned selects the digests linked to an owner's repositories; its
// parameters are the owner's id, twice for a user.
func owned(kind string) (string, int) {
	if kind == meta.QuotaCollection {
		return `SELECT rb.digest FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
			JOIN containers k ON k.id = r.container_id WHERE k.collection_id = ?`, 1
	}
	return `SELECT rb.digest FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
		LEFT JOIN containers k ON k.id = r.container_id LEFT JOIN collections c ON c.id = k.collection_id
		WHERE (r.container_id IS NULL AND r.owner_id = ?) OR c.owner_id = ?`, 2
}

func ownerArgs(id string, n int) []any {
	args := make([]any, n)
	for i := range args {
		args[i] = id
	}
	return args
}

func (s *Store) QuotaUsage(ctx context.Context, kind, subjectID string) (int64, error) {
	if err := checkKind(kind); err != nil {
		return 0, err
	}
	sub, n := owned(kind)
	var used int64
	err := s.queryRow(ctx, `SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.state = 'live' AND b.digest IN (`+sub+`)`,
		ownerArgs(subjectID, n)...).Scan(&used)
	return used, mapErr(err, "quota usage")
}

func (s *Store) QuotaHolds(ctx context.Context, kind, subjectID, digest string) (bool, error) {
	if err := checkKind(kind); err != nil {
		return false, err
	}
	sub, n := owned(kind)
	var count int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM blobs b WHERE b.digest = ? AND b.state = 'live' AND b.digest IN (`+sub+`)`,
		append([]any{digest}, ownerArgs(subjectID, n)...)...).Scan(&count)
	return count > 0, mapErr(err, "quota usage")
}
