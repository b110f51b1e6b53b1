package library

import (
	"context"
	"encoding/json"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/quota"
	"github.com/silo-hpc/silo/internal/upload"
)

// Upload session kinds (internal/upload).
const (
	kindSingle    = "library"
	kindMultipart = "library-multipart"
)

// uploadState is the library's own state of an upload session; the
// session itself counts the bytes received (upload.Session.Offset).
type uploadState struct {
	Filesize   int64       `json:"filesize"`
	PartSize   int64       `json:"partSize,omitempty"`
	TotalParts int         `json:"totalParts,omitempty"`
	Done       bool        `json:"done,omitempty"` // single-part: the PUT finished
	Parts      []partState `json:"parts,omitempty"`
	// NextSHA256 is the digest announced for the next part, if any.
	NextSHA256 string `json:"nextSHA256,omitempty"`
}

type partState struct {
	Number int    `json:"n"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag"` // the token the client must list at completion
}

func stateOf(sess *upload.Session) (uploadState, error) {
	var st uploadState
	if err := json.Unmarshal(sess.Data, &st); err != nil {
		return st, apperr.Wrap(apperr.Internal, err, "corrupt upload state")
	}
	return st, nil
}

func saveState(sess *upload.Session, st uploadState) {
	sess.Data, _ = json.Marshal(st)
}

// Completion is what a finished upload reports back (LA §6.8): the client
// prints the quota and the container's web path.
type Completion struct {
	Ref        Ref
	QuotaTotal int64 // 0 means unlimited
	QuotaUsage int64
}

// imageForUpload loads an image the caller may upload to.
func (s *Service) imageForUpload(ctx context.Context, p auth.Principal, imageID string) (Ref, meta.Image, error) {
	if err := bridge.RequireUser(p); err != nil {
		return Ref{}, meta.Image{}, err
	}
	var ref Ref
	var img meta.Image
	err := s.view(ctx, func(st Store) error {
		var err error
		img, err = st.GetImage(ctx, imageID)
		if apperr.Is(err, apperr.NotFound) {
			return bridge.NotFound("image", imageID)
		}
		if err != nil {
			return err
		}
		ref, err = s.bridge.ContainerByID(ctx, st, p, img.ContainerID)
		if err != nil {
			return bridge.NotFound("image", imageID)
		}
		return s.bridge.Writable(ctx, st, p, ref)
	})
	return ref, img, err
}

// rejected words a failed verification for the client, which prints it.
func rejected(err error, img meta.Image) error {
	if apperr.Is(err, apperr.Invalid) {
		return apperr.Wrap(apperr.Invalid, err, "upload rejected, it does not match image %s (%s): %s",
			img.ID, HashOf(img.Digest), apperr.MessageOf(err))
	}
	return err
}

// finish makes a verified blob the image's content: the SIF is inspected
// first (the library stores SIF images only: anything else is refused and
// no image is recorded; its bytes are left to the garbage collector), then
// one transaction marks the image uploaded, with what the inspection read,
// and makes its OCI view.
func (s *Service) finish(ctx context.Context, ref Ref, img meta.Image, info blob.Info) (Completion, error) {
	sif, err := s.bridge.Inspect(ctx, info.Digest)
	if err != nil {
		return Completion{}, err
	}
	c := Completion{Ref: ref}
	err = s.tx(ctx, func(tx Store) error {
		cur, err := tx.GetImage(ctx, img.ID)
		if apperr.Is(err, apperr.NotFound) {
			return apperr.New(apperr.NotFound, "image %s was deleted during the upload", img.ID)
		}
		if err != nil {
			return err
		}
		if _, err := s.bridge.MarkUploaded(ctx, tx, ref, cur, info.Size, sif); err != nil {
			return err
		}
		u, err := quota.Reported(ctx, tx, bridge.Owners(ref))
		c.QuotaTotal, c.QuotaUsage = u.Limit, u.Used
		return err
	})
	return c, err
}

// precheck refuses, before any byte is sent, an upload that cannot fit
// the quotas of the image's container (internal/quota).
func (s *Service) precheck(ctx context.Context, ref Ref, img meta.Image, size int64) error {
	return s.view(ctx, func(st Store) error {
		return quota.Precheck(ctx, st, bridge.Owners(ref), img.Digest, size)
	})
}

// UploadImageFile answers the v1 raw upload, POST /v1/imagefile/{id}: the
// body is the whole file, verified against the image hash before anything
// becomes visible.
func (s *Service) UploadImageFile(ctx context.Context, p auth.Principal, imageID string, body io.Reader, length int64) (Completion, error) {
	ref, img, err := s.imageForUpload(ctx, p, imageID)
	if err != nil {
		return Completion{}, err
	}
	if length >= 0 {
		if err := s.precheck(ctx, ref, img, length); err != nil {
			return Completion{}, err
		}
	}
	info, err := s.uploads.Put(ctx, body, length, digest.Digest(img.Digest), length)
	if err != nil {
		return Completion{}, rejected(err, img)
	}
	return s.finish(ctx, ref, img, info)
}

// endsUpload reports failures after which a library upload is over: the
// client itself gives up after any failed part or PUT, and a session with
// bytes the client does not account for could only fail later.
func endsUpload(err error) bool {
	return apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Internal)
}

// abortIf ends session id when err ends the upload, and returns err.
func (s *Service) abortIf(ctx context.Context, id, kind string, err error) error {
	if err != nil && endsUpload(err) {
		if aerr := s.uploads.Abort(context.WithoutCancel(ctx), id, kind); aerr != nil && !apperr.Is(aerr, apperr.NotFound) {
			logctx.From(ctx).Warn("ending a failed upload", "err", aerr)
		}
	}
	return err
}

// dropImageSessions ends every upload session of an image but keep:
// uploads that lost the race or were abandoned once the image is
// complete, and all of them once it is deleted.
func (s *Service) dropImageSessions(ctx context.Context, imageID, keep string) {
	for _, kind := range []string{kindSingle, kindMultipart} {
		sessions, err := s.uploads.List(ctx, kind, imageID)
		if err != nil {
			logctx.From(ctx).Warn("listing upload sessions", "image", imageID, "err", err)
			continue
		}
		for _, sess := range sessions {
			if sess.ID != keep {
				// A session busy right now is left to expire.
				_ = s.uploads.Abort(ctx, sess.ID, kind)
			}
		}
	}
}
