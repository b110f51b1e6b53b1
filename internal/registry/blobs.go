package registry

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// repoBlob authorizes a read of blob d in name and returns its record.
// Blobs are served per repository: only those pushed or mounted there (or
// referenced by a library image there), so a private repository's blobs
// never leak through a public one.
func (s *Service) repoBlob(ctx context.Context, c Caller, name, d string) (digest.Digest, meta.BlobRecord, error) {
	repo, err := s.pullRepo(ctx, c, name)
	if err != nil {
		return "", meta.BlobRecord{}, err
	}
	dg, err := oci.ParseDigest(d)
	if err != nil {
		return "", meta.BlobRecord{}, err
	}
	rec, err := s.meta.GetRepositoryBlob(ctx, repo.ID, dg.String())
	return dg, rec, notFound(err, oci.CodeBlobUnknown, "blob")
}

// StatBlob answers HEAD of a blob from metadata alone.
func (s *Service) StatBlob(ctx context.Context, c Caller, name, d string) (blob.Info, error) {
	dg, rec, err := s.repoBlob(ctx, c, name, d)
	if err != nil {
		return blob.Info{}, err
	}
	return blob.Info{Digest: dg, Size: rec.Size, ModTime: rec.CreatedAt}, nil
}

// OpenBlob opens a blob for GET. The reader is the store's (an *os.File
// for fsblob), so the transport can serve ranges and use sendfile.
func (s *Service) OpenBlob(ctx context.Context, c Caller, name, d string) (io.ReadSeekCloser, blob.Info, error) {
	dg, _, err := s.repoBlob(ctx, c, name, d)
	if err != nil {
		return nil, blob.Info{}, err
	}
	rc, info, err := s.blobs.Open(ctx, dg)
	return rc, info, notFound(err, oci.CodeBlobUnknown, "blob")
}

// DeleteBlob unlinks a blob from a repository; the bytes stay until GC
// finds no repository and no manifest still referencing them.
func (s *Service) DeleteBlob(ctx context.Context, c Caller, name, d string) error {
	dg, err := oci.ParseDigest(d)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx meta.Store) error {
		repo, err := s.existingRepo(ctx, tx, c, name, oci.ActionDelete)
		if err != nil {
			return err
		}
		return notFound(tx.UnlinkBlob(ctx, repo.ID, dg.String()), oci.CodeBlobUnknown, "blob")
	})
}

// existingRepo authorizes a write to a repository that must already
// exist (deletes). A missing repository looks like one the caller may not
// see: NAME_UNKNOWN, or a challenge for an anonymous caller.
func (s *Service) existingRepo(ctx context.Context, tx meta.Store, c Caller, name, action string) (meta.Repository, error) {
	// A token that does not cover the action is refused before the
	// repository is looked up, as pushRepo does: otherwise a missing
	// repository (404) and a private one (401) would answer differently.
	if c.Token && !c.Anonymous() && oci.ValidName(name) && !c.allows("repository", name, action) {
		return s.pushRepo(ctx, tx, c, name, action)
	}
	if _, err := tx.GetRepository(ctx, name); apperr.Is(err, apperr.NotFound) && oci.ValidName(name) {
		if c.Anonymous() {
			return meta.Repository{}, oci.Unauthorized(oci.RepositoryScope(name, oci.ActionPull, oci.ActionPush, action), false)
		}
		return meta.Repository{}, oci.Errorf(oci.CodeNameUnknown, apperr.NotFound, "repository name not known to registry")
	}
	return s.pushRepo(ctx, tx, c, name, action)
}

// recordBlob records a committed blob and links it into repo.
func recordBlob(ctx context.Context, tx meta.Store, repoID string, info blob.Info) error {
	if err := tx.PutBlob(ctx, info.Digest.String(), info.Size); err != nil {
		return err
	}
	return tx.LinkBlob(ctx, repoID, info.Digest.String())
}
