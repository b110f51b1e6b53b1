package registry

import (
	"context"
	"encoding/json"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// Referrers lists the manifests whose subject is d (end-12a), optionally
// only those of one artifactType (end-12b). The API never answers 404: an
// unknown digest, and a repository an authenticated caller may not see,
// give an empty list (the latter so privacy does not leak).
func (s *Service) Referrers(ctx context.Context, c Caller, name, d, artifactType string) ([]oci.Descriptor, error) {
	dg, err := oci.ParseDigest(d)
	if err != nil {
		return nil, err
	}
	var rows []meta.Manifest
	err = s.view(ctx, func(st Store) error {
		repo, err := s.pull(ctx, st, c, name)
		if err != nil {
			return err
		}
		rows, err = st.ListReferrers(ctx, repo.ID, dg.String())
		return err
	})
	if apperr.Is(err, apperr.NotFound) {
		return []oci.Descriptor{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []oci.Descriptor{}
	for _, m := range rows {
		desc := oci.Descriptor{MediaType: m.MediaType, Digest: digest.Digest(m.Digest), Size: m.Size, ArtifactType: m.ArtifactType}
		// The spec's fallback: an image manifest's config type; none for
		// an index.
		if desc.ArtifactType == "" && !oci.IsIndex(m.MediaType) {
			desc.ArtifactType = m.ConfigMediaType
		}
		if artifactType != "" && desc.ArtifactType != artifactType {
			continue
		}
		if m.Annotations != "" {
			_ = json.Unmarshal([]byte(m.Annotations), &desc.Annotations)
		}
		out = append(out, desc)
	}
	return out, nil
}
