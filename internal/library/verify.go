package library

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/logctx"
)

// Reverify checks again the signatures of stored images whose check is
// stale: a key that signed them was added, replaced or removed since, or
// expired (meta.SIFSigners.ListStaleSigners). It runs like Backfill: in
// the background at start, after key changes and on the housekeeping
// schedule, until nothing is stale or ctx ends; several replicas running
// it only repeat work. A check reads the whole image again (about 1 s per
// GiB), so it never runs inside a request.
func (s *Service) Reverify(ctx context.Context) (int, error) {
	log := logctx.From(ctx)
	done, failed := 0, map[string]bool{}
	for {
		digests, err := s.meta.ListStaleSigners(ctx, s.now(), backfillBatch+len(failed))
		if err != nil {
			return done, err
		}
		todo := digests[:0]
		for _, d := range digests {
			if !failed[d] {
				todo = append(todo, d)
			}
		}
		if len(todo) == 0 {
			return done, nil
		}
		start := time.Now()
		for _, d := range todo {
			if err := s.reverify(ctx, d); err != nil {
				if ctx.Err() != nil {
					return done, ctx.Err()
				}
				log.Warn("checking the signatures of a stored image again", "digest", d, "err", err)
				failed[d] = true
				continue
			}
			done++
		}
		log.Info("checked signatures of stored images again", "done", done, "failed", len(failed), "batch_ms", time.Since(start).Milliseconds())
	}
}

// reverify checks one stored blob's signatures and records the result on
// every image with that content.
func (s *Service) reverify(ctx context.Context, d string) error {
	imgs, err := s.meta.ListImagesByDigest(ctx, d)
	if err != nil {
		return err
	}
	if len(imgs) == 0 {
		return s.meta.DeleteSIFSigners(ctx, d)
	}
	v, err := s.bridge.Verify(ctx, digest.Digest(d), bridge.MetaOf(imgs[0]).Fingerprints)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx Store) error {
		imgs, err := tx.ListImagesByDigest(ctx, d)
		if err != nil {
			return err
		}
		for _, img := range imgs {
			img.Metadata = bridge.Reverified(img, v)
			if err := tx.UpdateImage(ctx, &img); err != nil {
				return err
			}
		}
		return tx.SetSIFSignersChecked(ctx, d, v.Generation, v.CheckedAt)
	})
}
