package library

import (
	"context"
	"encoding/json"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
)

// Inspected is an image with what was read from its SIF.
type Inspected struct {
	ImageInfo
	// Inspection is internal/sifinspect's JSON, as stored.
	Inspection json.RawMessage
	Labels     map[string]string
}

// InspectImage answers GET /v1/inspect/{ref}?arch=: what the server read
// from a visible image's SIF (definition file, runscript, environment,
// test, labels, signatures, partitions).
func (s *Service) InspectImage(ctx context.Context, p auth.Principal, ref, arch string) (Inspected, error) {
	var out Inspected
	err := s.view(ctx, func(st Store) error {
		r, img, err := s.resolveImage(ctx, st, p, ref, arch)
		if err != nil {
			return err
		}
		if !img.Uploaded {
			return bridge.NotFound("image", ref)
		}
		if out.ImageInfo, err = imageInfo(ctx, st, r, img); err != nil {
			return err
		}
		in, err := st.GetInspection(ctx, img.Digest)
		if apperr.Is(err, apperr.NotFound) {
			return apperr.New(apperr.Unavailable, "image %s is not inspected yet; the server is inspecting stored images", ref)
		}
		if err != nil {
			return err
		}
		out.Inspection = json.RawMessage(in.JSON)
		out.Labels, err = st.GetLabels(ctx, img.ID)
		return err
	})
	return out, err
}

// LabelQuery is GET /v1/labels's query.
type LabelQuery struct {
	Key, Value string
	// Fold ignores case (meta.LabelQuery).
	Fold bool
	// Page (from 1) and Limit (1 to SearchLimit), as the search's; zero
	// means the first page of SearchLimit.
	Page, Limit int
}

// ListLabels answers GET /v1/labels: labels, filtered by key and value,
// with the containers whose images carry them; what the caller may not
// read is left out.
func (s *Service) ListLabels(ctx context.Context, p auth.Principal, q LabelQuery) ([]meta.LabelRow, error) {
	limit, offset, err := pageOf(q.Page, q.Limit)
	if err != nil {
		return nil, err
	}
	return s.meta.ListLabels(ctx, meta.LabelQuery{Key: q.Key, Value: q.Value, Fold: q.Fold, Viewer: viewerOf(p),
		Limit: limit, Offset: offset})
}

// backfillBatch is how many digests one round of the backfill inspects.
const backfillBatch = 100

// Backfill inspects stored images that have no inspection of the current
// inspector's version (images stored before inspection existed, or by an
// older inspector), logging its progress, until none is left or ctx ends.
// The server runs it in the background at start; several replicas running
// it together only repeat work (an inspection is stored per digest).
func (s *Service) Backfill(ctx context.Context) (int, error) {
	log := logctx.From(ctx)
	// One pass in digest order: a digest that fails (its blob missing,
	// say) is left behind the cursor, not listed again in every batch.
	done, failed, after := 0, 0, ""
	for {
		todo, err := s.meta.ListUninspected(ctx, bridge.InspectorVersion, after, backfillBatch)
		if err != nil {
			return done, err
		}
		if len(todo) == 0 {
			return done, nil
		}
		after = todo[len(todo)-1]
		if done == 0 {
			log.Info("inspecting stored images", "batch", len(todo))
		}
		start := time.Now()
		for _, d := range todo {
			if err := s.reinspect(ctx, d); err != nil {
				if ctx.Err() != nil {
					return done, ctx.Err()
				}
				log.Warn("inspecting a stored image", "digest", d, "err", err)
				failed++
				continue
			}
			done++
		}
		log.Info("inspected stored images", "done", done, "failed", failed, "batch_ms", time.Since(start).Milliseconds())
	}
}

// viewerOf is the caller as the store sees it for privacy.
func viewerOf(p auth.Principal) meta.Viewer {
	return meta.Viewer{UserID: p.UserID, Admin: p.IsAdmin()}
}

// reinspect inspects one stored blob and records what it read on every
// image with that content: the inspection, labels, the metadata summary
// and, where it was unknown, the architecture. A stored file that is not
// a SIF (accepted before the library refused those) keeps a record saying
// so, so it is not retried at every start.
func (s *Service) reinspect(ctx context.Context, d string) error {
	sif, err := s.bridge.Inspect(ctx, digest.Digest(d))
	if apperr.Is(err, apperr.Invalid) {
		js, _ := json.Marshal(map[string]any{"warnings": []string{apperr.MessageOf(err)}})
		sif = bridge.SIF{Inspection: js}
	} else if err != nil {
		return err
	}
	return s.tx(ctx, func(tx Store) error {
		in := meta.Inspection{Digest: d, Version: bridge.InspectorVersion, JSON: string(sif.Inspection)}
		if err := tx.PutInspection(ctx, &in); err != nil {
			return err
		}
		if !sif.Meta.SIF {
			return nil
		}
		if err := bridge.RecordSigners(ctx, tx, d, sif); err != nil {
			return err
		}
		imgs, err := tx.ListImagesByDigest(ctx, d)
		if err != nil {
			return err
		}
		summary, _ := json.Marshal(sif.Meta)
		for _, img := range imgs {
			img.Metadata = string(summary)
			if img.Arch == "" {
				img.Arch = sif.Arch
			}
			if err := tx.UpdateImage(ctx, &img); err != nil {
				return err
			}
			if err := tx.SetLabels(ctx, img.ID, sif.Labels); err != nil {
				return err
			}
		}
		return nil
	})
}
