package bridge

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// AddSIF makes a SIF artifact pushed over OCI to a library container a
// library image carrying the pushed tag, inside the manifest's
// transaction, so `singularity pull library://` finds what
// `singularity push oras://` sent. The registry has checked the layer is
// a blob of the repository, of the declared size; sif was read from it
// before the transaction. The library's tags then decide the OCI tag.
func (b *Bridge) AddSIF(ctx context.Context, tx Store, p auth.Principal, ref Ref, d digest.Digest, tag string, m oci.Manifest, sif SIF) error {
	layer := m.Layers[0]
	var tags []string
	// scs-library-client names its manifest by the image hash
	// ("sha256.<hex>"); that is the library's hash reference, not a tag.
	if tag != "" && tag != HashOf(layer.Digest.String()) {
		tags = []string{tag}
	}
	_, err := b.AddImage(ctx, tx, p, ref, layer.Digest, layer.Size, sif, "", tags, d.String())
	return manifestFault(err)
}

// TagIndex gives the library the tags scs-library-client pushes over OCI:
// an index under the tag whose entries are SIF manifests of this
// repository, one per architecture. Each entry tags its image for its
// platform's architecture. Entries that are not SIF artifacts here are
// left to the OCI side alone. It reports whether the library took the tag;
// the library's tags then decide the OCI tag (an index of its own, whose
// entries carry sizes, which the client's index lacks).
func (b *Bridge) TagIndex(ctx context.Context, tx Store, p auth.Principal, ref Ref, repo meta.Repository, tag string, idx oci.Manifest) (bool, error) {
	tagged := false
	for _, entry := range idx.Manifests {
		row, err := tx.GetManifest(ctx, repo.ID, entry.Digest.String())
		if apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		m, err := oci.ParseManifest(row.Content)
		if err != nil || !m.IsSIF() {
			continue
		}
		arch := ""
		if entry.Platform != nil {
			arch = entry.Platform.Architecture
		}
		layer := m.Layers[0]
		img, err := tx.GetImageByDigest(ctx, ref.Container.ID, layer.Digest.String())
		sif := SIF{}
		if err == nil {
			sif = SIF{Arch: img.Arch, Meta: MetaOf(img)}
		} else if !apperr.Is(err, apperr.NotFound) {
			return false, err
		}
		if _, err := b.AddImage(ctx, tx, p, ref, layer.Digest, layer.Size, sif, arch, []string{tag}, row.Digest); err != nil {
			return false, manifestFault(err)
		}
		tagged = true
	}
	return tagged, nil
}

// manifestFault says invalid input found while adding a pushed manifest's
// SIF is the manifest's fault (not the repository name's).
func manifestFault(err error) error {
	if apperr.Is(err, apperr.Invalid) {
		return apperr.About(apperr.Manifest, err)
	}
	return err
}
