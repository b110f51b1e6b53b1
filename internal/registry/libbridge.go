package registry

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// addSIF makes a SIF artifact pushed to a library container a library
// image carrying the pushed tag, inside the manifest's transaction, so
// `singularity pull library://` finds what `singularity push oras://`
// sent. The layer must have been pushed to this repository first.
func (s *Service) addSIF(ctx context.Context, tx meta.Store, c Caller, name string, repo meta.Repository, d digest.Digest, tag string, m oci.Manifest) error {
	layer := m.Layers[0]
	rec, err := tx.GetRepositoryBlob(ctx, repo.ID, layer.Digest.String())
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return oci.Errorf(oci.CodeManifestBlobUnknown, apperr.Invalid, "SIF layer %s was not pushed to %s", layer.Digest, name)
		}
		return err
	}
	if rec.Size != layer.Size {
		return oci.Errorf(oci.CodeManifestInvalid, apperr.Invalid, "SIF layer %s has %d bytes, not %d", layer.Digest, rec.Size, layer.Size)
	}
	ref, err := s.lib.ContainerForPush(ctx, tx, c.Principal, name)
	if err != nil {
		return withDefaultCode(err)
	}
	var tags []string
	// scs-library-client names its manifest by the image hash
	// ("sha256.<hex>"); that is the library's hash reference, not a tag.
	if tag != "" && tag != library.HashOf(layer.Digest.String()) {
		tags = []string{tag}
	}
	_, err = s.lib.AddImage(ctx, tx, c.Principal, ref, layer.Digest, layer.Size, "", tags, d.String())
	return manifestError(err)
}

// tagSIFIndex gives the library the tags scs-library-client pushes over
// OCI: an index under the tag whose entries are SIF manifests of this
// repository, one per architecture. Each entry tags its image for its
// platform's architecture. Entries that are not SIF artifacts here are left
// to the OCI side alone.
func (s *Service) tagSIFIndex(ctx context.Context, tx meta.Store, c Caller, name string, repo meta.Repository, tag string, idx oci.Manifest) error {
	for _, entry := range idx.Manifests {
		row, err := tx.GetManifest(ctx, repo.ID, entry.Digest.String())
		if apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return err
		}
		m, err := oci.ParseManifest(row.Content)
		if err != nil || !m.IsSIF() {
			continue
		}
		ref, err := s.lib.ContainerForPush(ctx, tx, c.Principal, name)
		if err != nil {
			return withDefaultCode(err)
		}
		arch := ""
		if entry.Platform != nil {
			arch = entry.Platform.Architecture
		}
		layer := m.Layers[0]
		if _, err := s.lib.AddImage(ctx, tx, c.Principal, ref, layer.Digest, layer.Size, arch, []string{tag}, row.Digest); err != nil {
			return manifestError(err)
		}
	}
	return nil
}

// checkFrozen applies the library's frozen rule to OCI tag moves in a
// library container: an existing tag may not be pointed elsewhere.
func (s *Service) checkFrozen(ctx context.Context, tx meta.Store, repo meta.Repository, tag string, d digest.Digest) error {
	if repo.ContainerID == "" || tag == "" || s.lib == nil {
		return nil
	}
	con, err := tx.GetContainer(ctx, repo.ContainerID)
	if err != nil || !con.Frozen {
		return err
	}
	old, err := tx.GetTag(ctx, repo.ID, tag)
	if err == nil && old.Digest != d.String() {
		return oci.Errorf(oci.CodeDenied, apperr.Denied, "container %s is frozen; tag %q cannot be replaced", repo.Name, tag)
	}
	if apperr.Is(err, apperr.NotFound) {
		return nil
	}
	return err
}

// checkFrozenDelete applies the frozen rule to OCI deletes in a library
// container: a tag, or a manifest a tag names, stays. (Deleting it would
// also let the tag be pushed again at other content.)
func (s *Service) checkFrozenDelete(ctx context.Context, tx meta.Store, repo meta.Repository, ref oci.Reference) error {
	if repo.ContainerID == "" || s.lib == nil {
		return nil
	}
	con, err := tx.GetContainer(ctx, repo.ContainerID)
	if err != nil || !con.Frozen {
		return err
	}
	if ref.Tag == "" {
		tags, err := tx.ListTagsFor(ctx, repo.ID, ref.Digest.String())
		if err != nil || len(tags) == 0 {
			return err
		}
	}
	return oci.Errorf(oci.CodeDenied, apperr.Denied, "container %s is frozen; its tags cannot be deleted", repo.Name)
}
