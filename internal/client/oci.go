package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/silo-hpc/silo/internal/oci"
)

// OCI pulls SIF artifacts from an OCI registry (oras:// and docker://
// refs): the manifest Singularity's `push oras://` writes, one layer of
// the SIF media type (docs/protocols/oci-and-auth.md §4.6). oras-go
// resolves the reference and answers the registry's token challenges;
// the layer itself goes through Download, with Range and verification.
type OCI struct {
	Host       string // host[:port]
	Insecure   bool   // plain http
	HTTP       *http.Client
	Credential auth.Credential // zero: anonymous
}

// SIFArtifact is a resolved SIF layer and how to fetch it.
type SIFArtifact struct {
	Layer    ocispec.Descriptor
	Manifest ocispec.Descriptor
	BlobURL  string
	Doer     Doer // sends the registry's tokens with the repository's pull scope
}

// SHA256 is the layer's digest hex.
func (a SIFArtifact) SHA256() string { return a.Layer.Digest.Encoded() }

// maxManifest bounds a manifest read (the OCI spec's 4 MiB advice).
const maxManifest = 4 << 20

// ResolveSIF finds the SIF layer that repository:reference names, for
// arch when the reference is an index of several platforms.
func (o OCI) ResolveSIF(ctx context.Context, repository, reference, arch string) (SIFArtifact, error) {
	var a SIFArtifact
	repo, client, err := o.repository(ctx, repository)
	if err != nil {
		return a, err
	}
	desc, m, err := fetchManifest(ctx, repo, reference)
	if err != nil {
		return a, err
	}
	if oci.IsIndex(desc.MediaType) {
		if desc, m, err = pickPlatform(ctx, repo, m, arch); err != nil {
			return a, err
		}
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(m, &man); err != nil {
		return a, fmt.Errorf("invalid manifest %s: %w", desc.Digest, err)
	}
	layer, err := sifLayer(man)
	if err != nil {
		return a, err
	}
	scheme := "https"
	if repo.PlainHTTP {
		scheme = "http"
	}
	a.Layer, a.Manifest = layer, desc
	a.BlobURL = fmt.Sprintf("%s://%s/v2/%s/blobs/%s", scheme, o.Host, repository, layer.Digest)
	a.Doer = scoped{client: client, ref: repo.Reference}
	return a, nil
}

// repository is repository on the registry, over https or (when the
// registry answers only that, or Insecure asks) plain http, with the
// credential.
func (o OCI) repository(ctx context.Context, repository string) (*remote.Repository, *auth.Client, error) {
	ping, err := Registry{Host: o.Host, Insecure: o.Insecure, HTTP: o.HTTP}.Ping(ctx)
	if err != nil {
		return nil, nil, err
	}
	repo, err := remote.NewRepository(o.Host + "/" + repository)
	if err != nil {
		return nil, nil, err
	}
	repo.PlainHTTP = strings.HasPrefix(ping.Base, "http://")
	client := &auth.Client{Client: orDefault(o.HTTP), Cache: auth.NewCache(), Header: http.Header{"User-Agent": {UserAgent()}}}
	if o.Credential != auth.EmptyCredential {
		client.Credential = auth.StaticCredential(o.Host, o.Credential)
	}
	repo.Client = client
	return repo, client, nil
}

func fetchManifest(ctx context.Context, repo *remote.Repository, reference string) (ocispec.Descriptor, []byte, error) {
	desc, rc, err := repo.FetchReference(ctx, reference)
	if err != nil {
		return desc, nil, err
	}
	defer rc.Close()
	if desc.Size > maxManifest {
		return desc, nil, fmt.Errorf("manifest %s is over %d bytes", desc.Digest, maxManifest)
	}
	b, err := content.ReadAll(rc, desc)
	return desc, b, err
}

// pickPlatform chooses the index entry for arch (or the only entry).
func pickPlatform(ctx context.Context, repo *remote.Repository, b []byte, arch string) (ocispec.Descriptor, []byte, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("invalid image index: %w", err)
	}
	var found []ocispec.Descriptor
	for _, d := range idx.Manifests {
		if len(idx.Manifests) == 1 || d.Platform != nil && d.Platform.Architecture == arch {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return ocispec.Descriptor{}, nil, fmt.Errorf("no image for architecture %s in this index", arch)
	}
	rc, err := repo.Fetch(ctx, found[0])
	if err != nil {
		return found[0], nil, err
	}
	defer rc.Close()
	m, err := content.ReadAll(io.LimitReader(rc, maxManifest), found[0])
	return found[0], m, err
}

// sifLayer returns the SIF layer of a SIF artifact manifest, or an error
// that says what the manifest is instead.
func sifLayer(m ocispec.Manifest) (ocispec.Descriptor, error) {
	var sifs []ocispec.Descriptor
	for _, l := range m.Layers {
		if l.MediaType == oci.SIFLayerMediaType || l.MediaType == oci.SIFLayerMediaTypeOld {
			sifs = append(sifs, l)
		}
	}
	if len(sifs) == 1 && len(m.Layers) == 1 {
		if sifs[0].Digest.Algorithm() != "sha256" {
			return ocispec.Descriptor{}, fmt.Errorf("the SIF layer's digest %s is not sha256", sifs[0].Digest)
		}
		return sifs[0], nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("this is %s, not a SIF image: silo pulls SIF images only (singularity build turns an OCI image into a SIF)", describeManifest(m))
}

// describeManifest names what a manifest holds.
func describeManifest(m ocispec.Manifest) string {
	layers := fmt.Sprintf("%d layers", len(m.Layers))
	if len(m.Layers) == 1 {
		layers = "1 layer"
	}
	switch cfg := m.Config.MediaType; {
	case m.ArtifactType != "":
		return fmt.Sprintf("an OCI artifact of type %s (%s)", m.ArtifactType, layers)
	case cfg == ocispec.MediaTypeImageConfig || cfg == "application/vnd.docker.container.image.v1+json":
		return fmt.Sprintf("a container image (config %s, %s)", cfg, layers)
	case cfg == oci.SIFConfigMediaType:
		return fmt.Sprintf("a SIF artifact without exactly one SIF layer (%s)", layers)
	}
	return fmt.Sprintf("an OCI artifact with config %s (%s)", m.Config.MediaType, layers)
}

// scoped sends requests through the oras auth client with the
// repository's pull scope, so a token challenge is answered for it.
type scoped struct {
	client *auth.Client
	ref    registry.Reference
}

func (s scoped) Do(req *http.Request) (*http.Response, error) {
	return s.client.Do(req.WithContext(auth.AppendRepositoryScope(req.Context(), s.ref, auth.ActionPull)))
}
