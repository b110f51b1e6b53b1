package library

import (
	"context"
	"encoding/json"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// hashPrefix marks a "tag" that names an image by content (LA §10).
const hashPrefix = "sha256."

// ImageInfo is an image with its container path and the tags naming it.
type ImageInfo struct {
	Ref
	Image meta.Image
	Tags  []string
}

// HashOf shows an image digest ("sha256:<hex>") the Library API way,
// "sha256.<hex>" (LA §6.5).
func HashOf(d string) string { return strings.Replace(d, ":", ".", 1) }

// parseHash turns a client's "sha256.<hex>" into a digest.
func parseHash(h string) (digest.Digest, error) {
	hex, ok := strings.CutPrefix(h, hashPrefix)
	d := digest.NewDigestFromEncoded(digest.SHA256, hex)
	if !ok || d.Validate() != nil {
		return "", apperr.New(apperr.Invalid, "invalid image hash %q: want sha256.<64 lowercase hex digits>", h)
	}
	return d, nil
}

// ImageRef is a parsed "[[entity/]collection/]container[:tag]".
type ImageRef struct {
	Entity, Collection, Container string
	Tag                           string // a tag, or sha256.<hex>
}

// ParseImageRef parses an image ref as clients put it in paths. A missing
// tag is "latest"; short refs get the default entity and collection
// (LA §10), and so do empty components (old clients send "//").
func ParseImageRef(s string) (ImageRef, error) {
	name, tag, _ := strings.Cut(strings.TrimPrefix(s, "/"), ":")
	if tag == "" {
		tag = "latest"
	}
	parts := strings.Split(name, "/")
	switch len(parts) {
	case 1:
		parts = []string{DefaultEntity, DefaultCollection, parts[0]}
	case 2:
		parts = []string{DefaultEntity, parts[0], parts[1]}
	case 3:
	default:
		return ImageRef{}, apperr.New(apperr.Invalid, "invalid image ref %q: want entity/collection/container[:tag]", s)
	}
	if parts[0] == "" {
		parts[0] = DefaultEntity
	}
	if parts[1] == "" {
		parts[1] = DefaultCollection
	}
	r := ImageRef{Entity: parts[0], Collection: parts[1], Container: parts[2], Tag: tag}
	for i, kind := range []string{"entity", "collection", "container"} {
		if err := checkName(kind, parts[i]); err != nil {
			return r, err
		}
	}
	if strings.HasPrefix(tag, hashPrefix) {
		_, err := parseHash(tag)
		return r, err
	}
	return r, checkTag(tag)
}

// resolveTag finds the image a tag names for arch. An architecture-less
// tag answers any arch (LA §12.7); with no arch asked, a tag set for a
// single architecture is unambiguous.
func resolveTag(ctx context.Context, st meta.Store, con meta.Container, tag, arch string) (meta.LibraryTag, error) {
	if arch != "" {
		t, err := st.GetLibraryTag(ctx, con.ID, arch, tag)
		if !apperr.Is(err, apperr.NotFound) {
			return t, err
		}
	}
	t, err := st.GetLibraryTag(ctx, con.ID, "", tag)
	if !apperr.Is(err, apperr.NotFound) || arch != "" {
		return t, err
	}
	tags, err := st.ListLibraryTags(ctx, con.ID)
	if err != nil {
		return t, err
	}
	var found []meta.LibraryTag
	var arches []string
	for _, t := range tags {
		if t.Tag == tag {
			found = append(found, t)
			arches = append(arches, t.Arch)
		}
	}
	switch len(found) {
	case 0:
		return t, apperr.New(apperr.NotFound, "tag %s not found", tag)
	case 1:
		return found[0], nil
	}
	return t, apperr.New(apperr.Invalid, "tag %s exists for several architectures (%s): say which with arch", tag, strings.Join(arches, ", "))
}

// resolveImage finds the image a ref names for arch, NotFound when it is
// missing or invisible. A sha256.<hex> ref is a lookup by content in the
// container and ignores arch (LA §10).
func (s *Service) resolveImage(ctx context.Context, st meta.Store, p auth.Principal, ref, arch string) (Ref, meta.Image, error) {
	r, err := ParseImageRef(ref)
	if err == nil {
		err = checkArch(arch)
	}
	if err != nil {
		return Ref{}, meta.Image{}, err
	}
	cref, err := s.containerByPath(ctx, st, p, r.Entity, r.Collection, r.Container)
	if err != nil {
		return Ref{}, meta.Image{}, err
	}
	if strings.HasPrefix(r.Tag, hashPrefix) {
		d, _ := parseHash(r.Tag)
		img, err := st.GetImageByDigest(ctx, cref.Container.ID, d.String())
		if apperr.Is(err, apperr.NotFound) {
			return cref, img, notFound("image", ref)
		}
		return cref, img, err
	}
	t, err := resolveTag(ctx, st, cref.Container, r.Tag, arch)
	if apperr.Is(err, apperr.NotFound) {
		return cref, meta.Image{}, notFound("image", ref)
	}
	if err != nil {
		return cref, meta.Image{}, err
	}
	img, err := st.GetImage(ctx, t.ImageID)
	return cref, img, err
}

// imageInfo adds the tags naming img.
func imageInfo(ctx context.Context, st meta.Store, ref Ref, img meta.Image) (ImageInfo, error) {
	info := ImageInfo{Ref: ref, Image: img}
	tags, err := st.ListLibraryTags(ctx, ref.Container.ID)
	for _, t := range tags {
		if t.ImageID == img.ID {
			info.Tags = append(info.Tags, t.Tag)
		}
	}
	return info, err
}

// GetImage answers GET /v1/images/{ref}?arch=.
func (s *Service) GetImage(ctx context.Context, p auth.Principal, ref, arch string) (ImageInfo, error) {
	var info ImageInfo
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		r, img, err := s.resolveImage(ctx, tx, p, ref, arch)
		if err != nil {
			return err
		}
		info, err = imageInfo(ctx, tx, r, img)
		return err
	})
	return info, err
}

// OpenImageFile answers GET /v1/imagefile/{ref}: an uploaded image's bytes.
func (s *Service) OpenImageFile(ctx context.Context, p auth.Principal, ref, arch string) (io.ReadSeekCloser, meta.Image, error) {
	_, img, err := s.resolveImage(ctx, s.meta, p, ref, arch)
	if err != nil {
		return nil, img, err
	}
	if !img.Uploaded {
		return nil, img, notFound("image", ref)
	}
	f, _, err := s.blobs.Open(ctx, digest.Digest(img.Digest))
	return f, img, err
}

// CreateImage answers POST /v1/images: a new, not yet uploaded image of a
// container the caller may push to. Creating an image that exists returns
// it. When the same content is already stored as an image the caller may
// read, the new image is complete at once (uploaded: true) and the client
// skips the upload; content the caller cannot read must be uploaded, so
// knowing a private image's hash never gives access to it.
func (s *Service) CreateImage(ctx context.Context, p auth.Principal, containerID, hash, description string) (ImageInfo, error) {
	d, err := parseHash(hash)
	if err != nil {
		return ImageInfo{}, err
	}
	var info ImageInfo
	err = s.meta.InTx(ctx, func(tx meta.Store) error {
		ref, err := s.containerRef(ctx, tx, p, containerID)
		if err != nil {
			return err
		}
		if err := s.writable(ctx, tx, p, ref); err != nil {
			return err
		}
		img, err := tx.GetImageByDigest(ctx, ref.Container.ID, d.String())
		if apperr.Is(err, apperr.NotFound) {
			img, err = s.newImage(ctx, tx, p, ref, d, description)
		}
		if err != nil {
			return err
		}
		info, err = imageInfo(ctx, tx, ref, img)
		return err
	})
	return info, err
}

func (s *Service) newImage(ctx context.Context, tx meta.Store, p auth.Principal, ref Ref, d digest.Digest, description string) (meta.Image, error) {
	img := meta.Image{ContainerID: ref.Container.ID, Digest: d.String(), Description: description, CreatedBy: p.UserID}
	src, err := s.readableCopy(ctx, tx, p, d)
	if err != nil || src == nil {
		return img, firstErr(err, tx.CreateImage(ctx, &img))
	}
	img.Uploaded, img.Size, img.Arch, img.Metadata = true, src.Size, src.Arch, src.Metadata
	if err := tx.CreateImage(ctx, &img); err != nil {
		return img, err
	}
	labels, err := tx.GetLabels(ctx, src.ID)
	if err == nil {
		err = tx.SetLabels(ctx, img.ID, labels)
	}
	if err == nil && s.Mirror != nil {
		err = s.Mirror.ImageUploaded(ctx, tx, ref, img)
	}
	return img, err
}

// readableCopy finds an uploaded image with digest d that p may read and
// whose blob is present, or nil.
func (s *Service) readableCopy(ctx context.Context, st meta.Store, p auth.Principal, d digest.Digest) (*meta.Image, error) {
	imgs, err := st.ListImagesByDigest(ctx, d.String())
	if err != nil {
		return nil, err
	}
	for _, img := range imgs {
		if !img.Uploaded {
			continue
		}
		k, err := st.GetContainer(ctx, img.ContainerID)
		if err != nil {
			return nil, err
		}
		c, err := st.GetCollection(ctx, k.CollectionID)
		if err != nil {
			return nil, err
		}
		if ok, err := s.access.CanReadCollection(ctx, st, p, c); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		if _, err := s.blobs.Stat(ctx, d); err != nil {
			if apperr.Is(err, apperr.NotFound) {
				return nil, nil
			}
			return nil, err
		}
		return &img, nil
	}
	return nil, nil
}

// DeleteImage answers DELETE /v1/images/{ref}?arch=. The blob stays for
// the garbage collector: another image or an OCI manifest may share it.
// A frozen container protects its tagged images.
func (s *Service) DeleteImage(ctx context.Context, p auth.Principal, ref, arch string) error {
	var deleted string
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		r, img, err := s.resolveImage(ctx, tx, p, ref, arch)
		if err != nil {
			return err
		}
		if err := s.writable(ctx, tx, p, r); err != nil {
			return err
		}
		info, err := imageInfo(ctx, tx, r, img)
		if err != nil {
			return err
		}
		if r.Container.Frozen && len(info.Tags) > 0 {
			return denied("container %s is frozen; its tagged images cannot be deleted", r.Path())
		}
		if err := tx.DeleteImage(ctx, img.ID); err != nil {
			return err
		}
		deleted = img.ID
		if s.Mirror != nil {
			return s.Mirror.ImageDeleted(ctx, tx, r, img)
		}
		return nil
	})
	if err == nil {
		// Uploads to the deleted image can never complete: drop them now
		// rather than at their expiry.
		s.dropImageSessions(ctx, deleted, "")
	}
	return err
}

// imageMeta is what images.metadata holds (derived from the SIF).
type imageMeta struct {
	SIF          bool     `json:"sif"`
	Signed       bool     `json:"signed,omitempty"`
	Encrypted    bool     `json:"encrypted,omitempty"`
	Fingerprints []string `json:"fingerprints,omitempty"`
}

// ImageMeta decodes an image's metadata; bad JSON reads as empty.
func ImageMeta(img meta.Image) (signed, encrypted bool, fingerprints []string) {
	var m imageMeta
	_ = json.Unmarshal([]byte(img.Metadata), &m)
	return m.Signed, m.Encrypted, m.Fingerprints
}
