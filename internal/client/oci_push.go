package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/silo-hpc/silo/internal/oci"
)

// PushSIF uploads a SIF as the artifact `singularity push oras://`
// writes (docs/protocols/oci-and-auth.md §4.6): config {} of the SIF
// config type, one layer of the SIF type titled with the file's name,
// tagged with each tag. A layer the registry already has is not sent.
// It returns the manifest's descriptor.
func (o OCI) PushSIF(ctx context.Context, repository, file, sha256hex string, size int64, tags []string,
	progress func(io.Reader) io.Reader) (ocispec.Descriptor, error) {
	repo, _, err := o.repository(ctx, repository)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cfg := content.NewDescriptorFromBytes(oci.SIFConfigMediaType, oci.EmptyJSON)
	layer := ocispec.Descriptor{MediaType: oci.SIFLayerMediaType, Digest: digest.NewDigestFromEncoded(digest.SHA256, sha256hex),
		Size: size, Annotations: map[string]string{oci.AnnotationTitle: filepath.Base(file)}}
	if err := pushIfMissing(ctx, repo, cfg, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(oci.EmptyJSON)), nil
	}); err != nil {
		return ocispec.Descriptor{}, err
	}
	err = pushIfMissing(ctx, repo, layer, func() (io.ReadCloser, error) {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		var r io.Reader = f
		if progress != nil {
			r = progress(f)
		}
		return struct {
			io.Reader
			io.Closer
		}{r, f}, nil
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	m, err := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: cfg, Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, m)
	for _, tag := range tags {
		if err := repo.PushReference(ctx, desc, bytes.NewReader(m), tag); err != nil {
			return desc, err
		}
	}
	return desc, nil
}

// pushIfMissing pushes a blob the repository does not have.
func pushIfMissing(ctx context.Context, repo interface {
	content.Storage
}, desc ocispec.Descriptor, open func() (io.ReadCloser, error)) error {
	if ok, err := repo.Exists(ctx, desc); err == nil && ok {
		return nil
	}
	r, err := open()
	if err != nil {
		return err
	}
	defer r.Close()
	return repo.Push(ctx, desc, r)
}
