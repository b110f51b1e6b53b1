package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/silo-hpc/silo/internal/oci"
)

// OCI pulls and pushes SIF artifacts in an OCI registry (oras:// and
// docker:// refs): the manifest Singularity's `push oras://` writes, one
// layer of the SIF media type (docs/protocols/oci-and-auth.md §4.6). It
// speaks the distribution API directly and answers the registry's
// challenge as `registry login` does (Ping, FetchToken): oras-go's
// reference package compiles regular expressions at start-up that would
// cost every silo command about 2 ms. The layer itself goes through
// Download, with Range and verification.
type OCI struct {
	Host          string // host[:port]
	Insecure      bool   // plain http
	HTTP          *http.Client
	Username      string
	Password      string
	RegistryToken string // a bearer token to send as is (auth files' "registrytoken")
}

// SIFArtifact is a resolved SIF layer and how to fetch it.
type SIFArtifact struct {
	Layer          oci.Descriptor
	ManifestDigest string
	BlobURL        string
	Doer           Doer // sends the registry's credentials for the repository
}

// SHA256 is the layer's digest hex.
func (a SIFArtifact) SHA256() string { return a.Layer.Digest.Encoded() }

// maxManifest bounds a manifest read (the OCI spec's 4 MiB advice).
const maxManifest = 4 << 20

// manifestAccept lists the manifest types a pull understands.
const manifestAccept = oci.MediaTypeImageManifest + ", " + oci.MediaTypeImageIndex + ", " +
	oci.MediaTypeDockerManifest + ", " + oci.MediaTypeDockerManifestList

// ResolveSIF finds the SIF layer that repository:reference names, for
// arch when the reference is an index of several platforms.
func (o OCI) ResolveSIF(ctx context.Context, repository, reference, arch string) (SIFArtifact, error) {
	s, err := o.open(ctx, repository, "pull")
	if err != nil {
		return SIFArtifact{}, err
	}
	m, d, err := s.manifest(ctx, reference)
	if err != nil {
		return SIFArtifact{}, err
	}
	if m.IsIndex() {
		entry, err := pickPlatform(m, arch)
		if err != nil {
			return SIFArtifact{}, err
		}
		if m, d, err = s.manifest(ctx, entry.Digest.String()); err != nil {
			return SIFArtifact{}, err
		}
	}
	if !m.IsSIF() {
		return SIFArtifact{}, fmt.Errorf("this is %s, not a SIF image: silo pulls SIF images only (singularity build turns an OCI image into a SIF)", describeManifest(m))
	}
	layer := m.Layers[0]
	if layer.Digest.Algorithm() != "sha256" {
		return SIFArtifact{}, fmt.Errorf("the SIF layer's digest %s is not sha256", layer.Digest)
	}
	return SIFArtifact{Layer: layer, ManifestDigest: d, Doer: s,
		BlobURL: s.base + "/v2/" + repository + "/blobs/" + layer.Digest.String()}, nil
}

// pickPlatform chooses the index entry for arch (or the only entry).
func pickPlatform(idx oci.Manifest, arch string) (oci.Descriptor, error) {
	for _, d := range idx.Manifests {
		if len(idx.Manifests) == 1 || d.Platform != nil && d.Platform.Architecture == arch {
			return d, nil
		}
	}
	return oci.Descriptor{}, fmt.Errorf("no image for architecture %s in this index", arch)
}

// describeManifest names what a manifest holds.
func describeManifest(m oci.Manifest) string {
	layers := fmt.Sprintf("%d layers", len(m.Layers))
	if len(m.Layers) == 1 {
		layers = "1 layer"
	}
	cfg := ""
	if m.Config != nil {
		cfg = m.Config.MediaType
	}
	switch {
	case m.ArtifactType != "":
		return fmt.Sprintf("an OCI artifact of type %s (%s)", m.ArtifactType, layers)
	case cfg == "application/vnd.oci.image.config.v1+json" || cfg == "application/vnd.docker.container.image.v1+json":
		return fmt.Sprintf("a container image (config %s, %s)", cfg, layers)
	case cfg == oci.SIFConfigMediaType:
		return fmt.Sprintf("a SIF artifact without exactly one SIF layer (%s)", layers)
	}
	return fmt.Sprintf("an OCI artifact with config %s (%s)", cfg, layers)
}

// ociSession talks to one repository with the Authorization its scope
// needs (docs/protocols/oci-and-auth.md §3): none, Basic, or a bearer
// token from the challenge's realm, fetched again once if it expires
// during a long transfer.
type ociSession struct {
	o     OCI
	repo  string
	base  string // scheme://host that answered /v2/
	chal  Challenge
	scope string
	mu    sync.Mutex
	auth  string
}

// open pings the registry and authorizes actions ("pull" or "pull,push")
// on repository.
func (o OCI) open(ctx context.Context, repository, actions string) (*ociSession, error) {
	p, err := Registry{Host: o.Host, Insecure: o.Insecure, HTTP: o.HTTP}.Ping(ctx)
	if err != nil {
		return nil, err
	}
	s := &ociSession{o: o, repo: repository, base: p.Base, chal: p.Challenge, scope: "repository:" + repository + ":" + actions}
	return s, s.authorize(ctx)
}

func (s *ociSession) authorize(ctx context.Context) error {
	var auth string
	switch s.chal.Scheme {
	case "":
	case "basic":
		if s.o.Username != "" || s.o.Password != "" {
			auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(s.o.Username+":"+s.o.Password))
		}
	case "bearer":
		tok := s.o.RegistryToken
		if tok == "" {
			var err error
			reg := Registry{Host: s.o.Host, Insecure: s.o.Insecure, HTTP: s.o.HTTP}
			if tok, err = reg.FetchToken(ctx, &PingResult{Base: s.base, Challenge: s.chal}, s.o.Username, s.o.Password, s.scope); err != nil {
				return err
			}
		}
		auth = "Bearer " + tok
	default:
		return fmt.Errorf("registry asks for unsupported authentication scheme %q", s.chal.Scheme)
	}
	s.mu.Lock()
	s.auth = auth
	s.mu.Unlock()
	return nil
}

// Do sends req with the session's credentials (only to the registry
// itself). A 401 to a request without a body, with a token from the
// realm, fetches a new token and retries once.
func (s *ociSession) Do(req *http.Request) (*http.Response, error) {
	resp, err := s.send(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || s.chal.Scheme != "bearer" || s.o.RegistryToken != "" || req.Body != nil {
		return resp, err
	}
	drain(resp)
	if err := s.authorize(req.Context()); err != nil {
		return nil, err
	}
	return s.send(req.Clone(req.Context()))
}

func (s *ociSession) send(req *http.Request) (*http.Response, error) {
	req.Header.Set("User-Agent", UserAgent())
	s.mu.Lock()
	auth := s.auth
	s.mu.Unlock()
	if auth != "" && sameOrigin(req.URL, s.base) {
		req.Header.Set("Authorization", auth)
	}
	return orDefault(s.o.HTTP).Do(req)
}

// request builds a request for a path under /v2/.
func (s *ociSession) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, method, s.base+"/v2/"+path, body)
}

// manifest fetches repository's manifest for reference and checks its
// digest when the reference is one.
func (s *ociSession) manifest(ctx context.Context, reference string) (oci.Manifest, string, error) {
	req, err := s.request(ctx, http.MethodGet, s.repo+"/manifests/"+reference, nil)
	if err != nil {
		return oci.Manifest{}, "", err
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := s.Do(req)
	if err != nil {
		return oci.Manifest{}, "", err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return oci.Manifest{}, "", ociError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return oci.Manifest{}, "", err
	}
	if len(b) > maxManifest {
		return oci.Manifest{}, "", fmt.Errorf("manifest %s is over %d bytes", reference, maxManifest)
	}
	sum := sha256.Sum256(b)
	d := "sha256:" + hex.EncodeToString(sum[:])
	if strings.HasPrefix(reference, "sha256:") && reference != d {
		return oci.Manifest{}, "", fmt.Errorf("the registry sent manifest %s for %s", d, reference)
	}
	m, err := oci.ParseManifest(b)
	return m, d, err
}

// ociError reads a distribution error answer ({"errors":[{code,message}]}).
func ociError(resp *http.Response) error {
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	msg := resp.Request.Method + " " + redactedURL(resp.Request.URL) + ": " + resp.Status
	if decodeJSON(resp.Body, &body) == nil && len(body.Errors) > 0 {
		msg += ": " + body.Errors[0].Code + ": " + body.Errors[0].Message
	}
	return &APIError{Status: resp.StatusCode, Message: msg}
}

// resolveLocation makes an upload Location absolute against the base.
func (s *ociSession) resolveLocation(loc string) (*url.URL, error) {
	base, err := url.Parse(s.base + "/")
	if err != nil {
		return nil, err
	}
	u, err := base.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("invalid upload location %q: %w", loc, err)
	}
	return u, nil
}
