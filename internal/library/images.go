package library

import (
	"context"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
)

// hashPrefix marks a "tag" that names an image by content (LA §10).
const hashPrefix = bridge.HashPrefix

// ImageInfo is an image with its container path and the tags naming it.
type ImageInfo struct {
	Ref
	Image meta.Image
	Tags  []string
}

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
		if err := bridge.CheckName(kind, parts[i]); err != nil {
			return r, err
		}
	}
	if strings.HasPrefix(tag, hashPrefix) {
		_, err := parseHash(tag)
		return r, err
	}
	return r, bridge.CheckTag(tag)
}

// resolveTag finds the image a tag names for arch. An architecture-less
// tag answers any arch (LA §12.7); with no arch asked, a tag set for a
// single architecture is unambiguous.
func resolveTag(ctx context.Context, st Store, con meta.Container, tag, arch string) (meta.LibraryTag, error) {
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
func (s *Service) resolveImage(ctx context.Context, st Store, p auth.Principal, ref, arch string) (Ref, meta.Image, error) {
	r, err := ParseImageRef(ref)
	if err == nil {
		err = bridge.CheckArch(arch)
	}
	if err != nil {
		return Ref{}, meta.Image{}, err
	}
	cref, err := s.bridge.ContainerByPath(ctx, st, p, r.Entity, r.Collection, r.Container)
	if err != nil {
		return Ref{}, meta.Image{}, err
	}
	if strings.HasPrefix(r.Tag, hashPrefix) {
		d, _ := parseHash(r.Tag)
		img, err := st.GetImageByDigest(ctx, cref.Container.ID, d.String())
		if apperr.Is(err, apperr.NotFound) {
			return cref, img, bridge.NotFound("image", ref)
		}
		return cref, img, err
	}
	t, err := resolveTag(ctx, st, cref.Container, r.Tag, arch)
	if apperr.Is(err, apperr.NotFound) {
		return cref, meta.Image{}, bridge.NotFound("image", ref)
	}
	if err != nil {
		return cref, meta.Image{}, err
	}
	img, err := st.GetImage(ctx, t.ImageID)
	return cref, img, err
}

// imageInfo adds the tags naming img.
func imageInfo(ctx context.Context, st Store, ref Ref, img meta.Image) (ImageInfo, error) {
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
	err := s.view(ctx, func(st Store) error {
		r, img, err := s.resolveImage(ctx, st, p, ref, arch)
		if err != nil {
			return err
		}
		info, err = imageInfo(ctx, st, r, img)
		return err
	})
	return info, err
}

// OpenDownload is OpenImageFile for a download that counts: count says
// the request starts a download (the client's first request for the
// image's bytes, not a resumed or parallel range of one), which adds one
// to the image's download count. Counting is best effort: a pull never
// fails because its count could not be written.
func (s *Service) OpenDownload(ctx context.Context, p auth.Principal, ref, arch string, count bool) (io.ReadSeekCloser, meta.Image, error) {
	f, img, err := s.OpenImageFile(ctx, p, ref, arch)
	if err == nil && count {
		if cerr := s.meta.CountDownload(ctx, img.ID); cerr != nil {
			logctx.From(ctx).Warn("counting a download", "image", img.ID, "err", cerr)
		}
	}
	return f, img, err
}

// OpenImageFile answers GET /v1/imagefile/{ref}: an uploaded image's bytes.
func (s *Service) OpenImageFile(ctx context.Context, p auth.Principal, ref, arch string) (io.ReadSeekCloser, meta.Image, error) {
	var img meta.Image
	err := s.view(ctx, func(st Store) error {
		var err error
		_, img, err = s.resolveImage(ctx, st, p, ref, arch)
		return err
	})
	if err != nil {
		return nil, img, err
	}
	if !img.Uploaded {
		return nil, img, bridge.NotFound("image", ref)
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
	src, err := s.readableCopy(ctx, p, d)
	if err != nil {
		return ImageInfo{}, err
	}
	var info ImageInfo
	err = s.tx(ctx, func(tx Store) error {
		ref, err := s.bridge.ContainerByID(ctx, tx, p, containerID)
		if err != nil {
			return err
		}
		if err := s.bridge.Writable(ctx, tx, p, ref); err != nil {
			return err
		}
		img, err := tx.GetImageByDigest(ctx, ref.Container.ID, d.String())
		if apperr.Is(err, apperr.NotFound) {
			img = meta.Image{ContainerID: ref.Container.ID, Digest: d.String(), Description: description, CreatedBy: p.UserID}
			if src != nil {
				img, err = s.bridge.CopyImage(ctx, tx, ref, img, *src)
			} else {
				err = tx.CreateImage(ctx, &img)
			}
		}
		if err != nil {
			return err
		}
		info, err = imageInfo(ctx, tx, ref, img)
		return err
	})
	return info, err
}

// readableCopy finds an uploaded image with digest d that p may read and
// whose blob is present, or nil. The blob is looked for outside any
// transaction.
func (s *Service) readableCopy(ctx context.Context, p auth.Principal, d digest.Digest) (*meta.Image, error) {
	var found *meta.Image
	err := s.view(ctx, func(st Store) error {
		imgs, err := st.ListImagesByDigest(ctx, d.String())
		if err != nil {
			return err
		}
		for _, img := range imgs {
			if !img.Uploaded {
				continue
			}
			_, err := s.bridge.ContainerByID(ctx, st, p, img.ContainerID)
			if apperr.Is(err, apperr.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			found = &img
			return nil
		}
		return nil
	})
	if err != nil || found == nil {
		return nil, err
	}
	if _, err := s.blobs.Stat(ctx, d); apperr.Is(err, apperr.NotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return found, nil
}

// DeleteImage answers DELETE /v1/images/{ref}?arch=. The blob stays for
// the garbage collector: another image or an OCI manifest may share it.
// A frozen container protects its tagged images.
func (s *Service) DeleteImage(ctx context.Context, p auth.Principal, ref, arch string) error {
	var deleted string
	err := s.tx(ctx, func(tx Store) error {
		r, img, err := s.resolveImage(ctx, tx, p, ref, arch)
		if err != nil {
			return err
		}
		if err := s.bridge.Writable(ctx, tx, p, r); err != nil {
			return err
		}
		deleted = img.ID
		return s.bridge.DeleteImage(ctx, tx, r, img)
	})
	if err == nil {
		// Uploads to the deleted image can never complete: drop them now
		// rather than at their expiry.
		s.dropImageSessions(ctx, deleted, "")
	}
	return err
}
