package registry

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
	"github.com/silo-hpc/silo/internal/quota"
)

func unknownBlob() error {
	return apperr.E(apperr.NotFound, apperr.Blob, "blob unknown to registry")
}

// repoBlob authorizes a read of blob d in name and returns its record.
// Blobs are served per repository: only those pushed or mounted there (or
// referenced by a library image there), so a private repository's blobs
// never leak through a public one.
func (s *Service) repoBlob(ctx context.Context, c Caller, name, d string) (digest.Digest, meta.BlobRecord, error) {
	var dg digest.Digest
	var rec meta.BlobRecord
	err := s.view(ctx, func(st Store) error {
		repo, err := s.pull(ctx, st, c, name)
		if err != nil {
			return err
		}
		if dg, err = oci.ParseDigest(d); err != nil {
			return err
		}
		rec, err = st.GetRepositoryBlob(ctx, repo.ID, dg.String())
		if apperr.Is(err, apperr.NotFound) {
			return unknownBlob()
		}
		return err
	})
	return dg, rec, err
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
	if apperr.Is(err, apperr.NotFound) {
		return nil, info, unknownBlob()
	}
	return rc, info, err
}

// DeleteBlob unlinks a blob from a repository; the bytes stay until GC
// finds nothing still referencing them. A frozen container's blobs stay:
// its tags stand on them.
func (s *Service) DeleteBlob(ctx context.Context, c Caller, name, d string) error {
	return s.tx(ctx, func(tx Store) error {
		t, err := s.existing(ctx, tx, c, name)
		if err != nil {
			return err
		}
		dg, err := oci.ParseDigest(d)
		if err != nil {
			return err
		}
		if t.library() {
			if err := s.bridge.FrozenContent(t.ref, "its blobs"); err != nil {
				return err
			}
		}
		err = tx.UnlinkBlob(ctx, t.repo.ID, dg.String())
		if apperr.Is(err, apperr.NotFound) {
			return unknownBlob()
		}
		return err
	})
}

// existing authorizes a delete in name, which must exist: a repository the
// caller could write but that does not exist is NAME_UNKNOWN.
func (s *Service) existing(ctx context.Context, tx Store, c Caller, name string) (target, error) {
	t, err := s.push(ctx, tx, c, name, oci.ActionDelete, false)
	if err == nil && t.repo.ID == "" {
		err = unknownRepo()
	}
	return t, err
}

// recordBlob records a committed blob in the repository a push to name
// writes to, creating that repository (and library container) now that a
// byte has been accepted.
func (s *Service) recordBlob(ctx context.Context, c Caller, name string, info blob.Info) error {
	return s.tx(ctx, func(tx Store) error { return s.linkBlob(ctx, tx, c, name, info) })
}

// linkBlob is recordBlob inside tx.
func (s *Service) linkBlob(ctx context.Context, tx Store, c Caller, name string, info blob.Info) error {
	t, err := s.push(ctx, tx, c, name, oci.ActionPush, true)
	if err != nil {
		return err
	}
	if err := tx.PutBlob(ctx, info.Digest.String(), info.Size); err != nil {
		return err
	}
	if err := quota.Charge(ctx, tx, owners(t, c), info.Digest.String(), info.Size); err != nil {
		return err
	}
	return tx.LinkBlob(ctx, t.repo.ID, info.Digest.String())
}

// owners are whose quotas a push to t counts against (internal/quota):
// the library collection and its owner, or the plain repository's owner;
// for a repository the push would create, the caller.
func owners(t target, c Caller) quota.Owners {
	switch {
	case t.library() && t.ref.Collection.ID != "":
		return bridge.Owners(t.ref)
	case !t.library() && t.repo.ID != "":
		return quota.ForRepository(t.repo)
	}
	return quota.Owners{UserID: c.UserID, Path: t.repo.Name}
}

func blobInfo(d digest.Digest, size int64) blob.Info { return blob.Info{Digest: d, Size: size} }
