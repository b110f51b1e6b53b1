// Package gc is the housekeeping service: it ends upload sessions that
// clients abandoned. (Removing blobs no row references comes later.)
package gc

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/meta"
)

// orphanAge is how long a blob-store upload session with no metadata row
// may sit before it is removed. Rows are written right after a session
// is opened, so only a crash leaves such a session; the margin keeps the
// sweep away from sessions being set up.
const orphanAge = 48 * time.Hour

// purger is the optional blob-store capability of listing and removing
// its own idle sessions (fsblob has it).
type purger interface {
	PurgeUploads(ctx context.Context, olderThan time.Duration) (int, error)
}

// Service sweeps abandoned uploads.
type Service struct {
	meta  meta.Store
	blobs blob.Store
	log   *slog.Logger
	now   func() time.Time
}

// New returns the housekeeping service.
func New(ms meta.Store, bs blob.Store, log *slog.Logger) *Service {
	return &Service{meta: ms, blobs: bs, log: log, now: time.Now}
}

// SweepUploads ends every upload session past its expiry: its blob-store
// session is discarded, then its row deleted (in that order, so a crash
// in between leaves a row the next sweep finds again). Then it removes
// blob-store sessions no row knows of. It returns how many sessions ended.
func (s *Service) SweepUploads(ctx context.Context) (int, error) {
	expired, err := s.meta.ListExpiredUploads(ctx, s.now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range expired {
		if u.BlobUploadID != "" {
			if err := s.blobs.AbortUpload(ctx, u.BlobUploadID); err != nil && !apperr.Is(err, apperr.NotFound) {
				return n, err
			}
		}
		if err := s.meta.DeleteUpload(ctx, u.ID); err != nil && !apperr.Is(err, apperr.NotFound) {
			return n, err
		}
		n++
	}
	if p, ok := s.blobs.(purger); ok {
		orphans, err := p.PurgeUploads(ctx, orphanAge)
		n += orphans
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Run sweeps now and then every interval until ctx ends, logging what it
// did and any error (a failed sweep is retried at the next tick).
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.SweepUploads(ctx)
		switch {
		case errors.Is(err, context.Canceled):
			return
		case err != nil:
			s.log.Error("sweeping abandoned uploads", "err", err, "ended", n)
		case n > 0:
			s.log.Info("swept abandoned uploads", "ended", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
