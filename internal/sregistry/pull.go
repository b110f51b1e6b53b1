package sregistry

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sifinspect"
)

// ContainerRequest is GET /api/container/<collection>/<name>:<tag>[@version].
type ContainerRequest struct {
	Name Name
	// Version, when set, names the image by content: sha256.<hex>, the hex
	// alone, or a prefix of at least 32 hex digits (Singularity accepts
	// 32 or 40 only, SR §4).
	Version string
	// Authorization is the request's header, if any.
	Authorization string
	// CannotSign says the client cannot authenticate (Singularity and
	// Apptainer have no shub auth, SR §4): it gets "not found" for what
	// it may not see, not a challenge it cannot answer.
	CannotSign bool
}

// Container is one image as sregistry describes it (SR §5.1).
type Container struct {
	Entity     meta.Entity
	Collection meta.Collection
	Container  meta.Container
	Image      meta.Image
	Tag        string
	Metadata   Metadata
	// Download is the capability the image URL carries.
	Download Capability
}

// Metadata is what sregistry's metadata object holds, from the stored
// SIF inspection; nil strings are unknown.
type Metadata struct {
	Deffile, Runscript, Environment, Test *string
	SizeMB                                int64
}

// Capability names one image's bytes in a collection without
// authentication: its MAC is derived from the server's key, the
// collection, the collection's download salt and the digest.
type Capability struct {
	CollectionID string
	Digest       string // hex
	MAC          string
}

// errChallenge answers an anonymous pull of anything not visible, private
// or missing alike: sregistry-cli retries with a signature only after a
// 403 (SR §3.1), and privacy wants the same answer for both. Clients that
// cannot sign get "not found" for both instead.
var errChallenge = apperr.New(apperr.Unauthenticated, "Authentication Required")

// Container answers the manifest GET of both pull clients (SR §3.1, §4):
// the image a tag (or version) names, with a download URL that needs no
// authorization and commit, the file's sha256, which Singularity's cache
// keys on.
func (s *Service) Container(ctx context.Context, req ContainerRequest) (Container, error) {
	raw := req.Name
	n, err := normalize(req.Name)
	if err == nil && n.Container == "" {
		err = bridge.NotFound("container", n.Collection+"/")
	}
	if err != nil {
		return Container{}, err
	}
	// The signature covers the names as the client sent them (SR §7).
	p, err := s.principal(ctx, req.Authorization, kindPull, signed{raw.Collection, raw.Container, n.Tag})
	if err != nil {
		return Container{}, err
	}
	c, err := s.container(ctx, p, n, req.Version, raw.Tag != "")
	if p.Anonymous() && !req.CannotSign && apperr.Is(err, apperr.NotFound) && !isAmbiguous(err) {
		return Container{}, errChallenge
	}
	return c, err
}

func (s *Service) container(ctx context.Context, p auth.Principal, n Name, version string, tagged bool) (Container, error) {
	ent, err := s.entityOf(ctx, p, n, false)
	if err != nil {
		return Container{}, err
	}
	ref := path(ent, n) + ":" + n.Tag
	if version != "" {
		if ref, err = s.versionRef(ctx, p, ent, n, version); err != nil {
			return Container{}, err
		}
	}
	info, err := s.lib.GetImage(ctx, p, ref, "")
	if err != nil {
		return Container{}, err
	}
	if !info.Image.Uploaded {
		return Container{}, bridge.NotFound("image", ref)
	}
	c := Container{Entity: info.Entity, Collection: info.Collection, Container: info.Container, Image: info.Image, Tag: n.Tag}
	if !tagged && version != "" {
		// A pull by content alone: the image's own first tag, if any.
		c.Tag = ""
		if len(info.Tags) > 0 {
			c.Tag = info.Tags[0]
		}
	}
	if c.Metadata, err = s.metadata(ctx, info.Image); err != nil {
		return Container{}, err
	}
	c.Download, err = s.capability(ctx, info.Collection.ID, info.Image.Digest)
	return c, err
}

// versionRef turns a version into the library's by-content ref.
func (s *Service) versionRef(ctx context.Context, p auth.Principal, ent string, n Name, version string) (string, error) {
	prefix := strings.TrimPrefix(strings.ToLower(version), bridge.HashPrefix)
	if !isHex(prefix) || len(prefix) < 32 || len(prefix) > 64 {
		return "", apperr.New(apperr.Invalid, "invalid version %q: want sha256.<hex>, or at least 32 hex digits of it", version)
	}
	base := path(ent, n) + ":" + bridge.HashPrefix
	if len(prefix) == 64 {
		return base + prefix, nil
	}
	con, err := s.lib.GetContainer(ctx, p, ent, n.Collection, n.Container)
	if err != nil {
		return "", err
	}
	var found []string
	for _, img := range con.Images {
		if h := digest.Digest(img.Digest).Encoded(); strings.HasPrefix(h, prefix) {
			found = append(found, h)
		}
	}
	if len(found) != 1 {
		return "", bridge.NotFound("image", path(ent, n)+"@"+version)
	}
	return base + found[0], nil
}

// isHex reports whether s is lowercase hex digits.
func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// metadata reads what sregistry shows of an image from its stored
// inspection (none yet: only the size).
func (s *Service) metadata(ctx context.Context, img meta.Image) (Metadata, error) {
	md := Metadata{SizeMB: (img.Size + 1<<20 - 1) >> 20}
	in, err := s.meta.GetInspection(ctx, img.Digest)
	if apperr.Is(err, apperr.NotFound) {
		return md, nil
	}
	if err != nil {
		return md, err
	}
	var ins sifinspect.Inspection
	if json.Unmarshal([]byte(in.JSON), &ins) != nil {
		return md, nil
	}
	md.Deffile = orNil(ins.Deffile, ins.DefinitionBuilt)
	md.Runscript, md.Test = orNil(ins.Runscript), orNil(ins.Test)
	// As `singularity inspect --environment` shows them: every file, in
	// the order they are sourced, under its path.
	var env strings.Builder
	for _, f := range ins.Environment {
		env.WriteString("=== /.singularity.d/env/" + f.Name + " ===\n" + f.Content)
		if !strings.HasSuffix(f.Content, "\n") {
			env.WriteString("\n")
		}
	}
	md.Environment = orNil(env.String())
	return md, nil
}

// orNil returns the first non-empty string, or nil.
func orNil(vals ...string) *string {
	for _, v := range vals {
		if v != "" {
			return &v
		}
	}
	return nil
}

// capability makes an image's download capability.
func (s *Service) capability(ctx context.Context, collectionID, d string) (Capability, error) {
	salt, err := s.meta.GetDownloadSalt(ctx, collectionID)
	if err != nil {
		return Capability{}, err
	}
	hexd := digest.Digest(d).Encoded()
	return Capability{CollectionID: collectionID, Digest: hexd, MAC: s.downloadMAC(collectionID, salt, hexd)}, nil
}

// downloadMAC is 128 bits of the MAC of a download: enough against
// guessing, short enough for a URL.
func (s *Service) downloadMAC(collectionID, salt, hexDigest string) string {
	return hex.EncodeToString(s.mac("download", collectionID, salt, hexDigest)[:16])
}

// Download is an image file a capability opened.
type Download struct {
	io.ReadSeekCloser
	Digest   digest.Digest
	Size     int64
	ModTime  time.Time
	Filename string
}

// OpenDownload answers GET and HEAD of an image URL: no authorization
// arrives there (SR §3.1 step 5, §4), so the URL is the credential. A
// wrong MAC, a rotated salt and an image no longer in the collection get
// one answer: not found.
func (s *Service) OpenDownload(ctx context.Context, c Capability) (Download, error) {
	notFound := apperr.E(apperr.NotFound, apperr.Blob, "Not found.")
	d := digest.NewDigestFromEncoded(digest.SHA256, c.Digest)
	if d.Validate() != nil || len(c.MAC) != 32 {
		return Download{}, notFound
	}
	var out Download
	err := meta.View(ctx, s.meta, func(st Store) error {
		salt, err := st.GetDownloadSalt(ctx, c.CollectionID)
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(s.downloadMAC(c.CollectionID, salt, c.Digest)), []byte(c.MAC)) != 1 {
			return notFound
		}
		imgs, err := st.ListImagesByDigest(ctx, d.String())
		if err != nil {
			return err
		}
		for _, img := range imgs {
			k, err := st.GetContainer(ctx, img.ContainerID)
			if err != nil {
				return err
			}
			if img.Uploaded && k.CollectionID == c.CollectionID {
				out = Download{Digest: d, Size: img.Size, ModTime: img.CreatedAt,
					Filename: k.Name + "_" + c.Digest[:12] + ".sif"}
				return nil
			}
		}
		return notFound
	})
	if err != nil {
		return Download{}, err
	}
	f, info, err := s.blobs.Open(ctx, d)
	if apperr.Is(err, apperr.NotFound) {
		return Download{}, notFound
	}
	if err != nil {
		return Download{}, err
	}
	out.ReadSeekCloser, out.Size = f, info.Size
	return out, nil
}
