package upload

import (
	"context"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
)

// purger is the optional blob-store capability of removing its own idle
// sessions (fsblob has it).
type purger interface {
	PurgeUploads(ctx context.Context, olderThan time.Duration) (int, error)
}

// Sweep ends every session past its expiry that no request holds, then
// removes blob-store sessions no row knows of. It returns how many
// sessions ended. The housekeeping service (internal/gc) runs it on a
// schedule; it is the only sweeper.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	expired, err := s.meta.ListExpiredUploads(ctx, s.cfg.Now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, row := range expired {
		l, cur, err := s.claim(ctx, row.ID)
		if apperr.Is(err, apperr.Unavailable) || apperr.Is(err, apperr.NotFound) {
			continue // in use right now, or already gone
		}
		if err != nil {
			return n, err
		}
		l.halt()
		// A request may have renewed the session since it was listed.
		if cur.ExpiresAt.After(s.cfg.Now()) {
			if err := s.meta.ReleaseUpload(ctx, &cur, l.holder); err != nil {
				return n, err
			}
			continue
		}
		if err := s.drop(ctx, cur); err != nil {
			return n, err
		}
		n++
	}
	if p, ok := s.blobs.(purger); ok {
		orphans, err := p.PurgeUploads(ctx, s.cfg.OrphanAge)
		n += orphans
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
