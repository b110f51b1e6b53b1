package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/oci"
)

// PushSIF uploads a SIF as the artifact `singularity push oras://`
// writes (docs/protocols/oci-and-auth.md §4.6): config {} of the SIF
// config type, one layer of the SIF type titled with the file's name,
// tagged with each tag. A blob the registry has already is not sent. It
// returns the manifest's digest.
func (o OCI) PushSIF(ctx context.Context, repository, file, sha256hex string, size int64, tags []string,
	progress func(io.Reader) io.Reader) (string, error) {
	s, err := o.open(ctx, repository, "pull,push")
	if err != nil {
		return "", err
	}
	cfg := oci.Descriptor{MediaType: oci.SIFConfigMediaType, Digest: oci.EmptyJSONDigest, Size: int64(len(oci.EmptyJSON))}
	layer := oci.Descriptor{MediaType: oci.SIFLayerMediaType, Digest: digest.NewDigestFromEncoded(digest.SHA256, sha256hex),
		Size: size, Annotations: map[string]string{oci.AnnotationTitle: filepath.Base(file)}}
	if err := s.pushBlob(ctx, cfg, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(oci.EmptyJSON)), nil }); err != nil {
		return "", err
	}
	err = s.pushBlob(ctx, layer, func() (io.ReadCloser, error) {
		f, err := os.Open(file)
		if err != nil || progress == nil {
			return f, err
		}
		return struct {
			io.Reader
			io.Closer
		}{progress(f), f}, nil
	})
	if err != nil {
		return "", err
	}
	m, err := json.Marshal(oci.Manifest{SchemaVersion: 2, MediaType: oci.MediaTypeImageManifest, Config: &cfg, Layers: []oci.Descriptor{layer}})
	if err != nil {
		return "", err
	}
	for _, tag := range tags {
		if err := s.put(ctx, s.repo+"/manifests/"+tag, oci.MediaTypeImageManifest, bytes.NewReader(m), int64(len(m))); err != nil {
			return "", err
		}
	}
	return digest.FromBytes(m).String(), nil
}

// pushBlob uploads a blob the repository does not have, in one PUT after
// the POST that starts the upload (distribution spec, monolithic upload).
func (s *ociSession) pushBlob(ctx context.Context, d oci.Descriptor, open func() (io.ReadCloser, error)) error {
	req, err := s.request(ctx, http.MethodHead, s.repo+"/blobs/"+d.Digest.String(), nil)
	if err != nil {
		return err
	}
	if resp, err := s.Do(req); err == nil {
		drain(resp)
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	req, err = s.request(ctx, http.MethodPost, s.repo+"/blobs/uploads/", nil)
	if err != nil {
		return err
	}
	resp, err := s.Do(req)
	if err != nil {
		return err
	}
	drain(resp)
	if resp.StatusCode != http.StatusAccepted {
		return ociError(resp)
	}
	loc, err := s.resolveLocation(resp.Header.Get("Location"))
	if err != nil {
		return err
	}
	q := loc.Query()
	q.Set("digest", d.Digest.String())
	loc.RawQuery = q.Encode()
	body, err := open()
	if err != nil {
		return err
	}
	defer body.Close()
	return s.putURL(ctx, loc.String(), "application/octet-stream", body, d.Size)
}

func (s *ociSession) put(ctx context.Context, path, contentType string, body io.Reader, size int64) error {
	return s.putURL(ctx, s.base+"/v2/"+path, contentType, body, size)
}

// putURL PUTs a body of size bytes and expects 201 Created.
func (s *ociSession) putURL(ctx context.Context, u, contentType string, body io.Reader, size int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, io.NopCloser(body))
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", contentType)
	resp, err := s.Do(req)
	if err != nil {
		return fmt.Errorf("error uploading: %w", err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusCreated {
		return ociError(resp)
	}
	return nil
}
