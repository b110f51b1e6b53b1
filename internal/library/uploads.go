package library

import (
	"context"
	"encoding/json"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/meta"
)

// Upload session kinds in the metadata uploads table.
const (
	kindSingle    = "library"
	kindMultipart = "library-multipart"
)

// uploadState is the JSON a library upload session keeps in meta.Upload.
type uploadState struct {
	Filesize   int64       `json:"filesize"`
	PartSize   int64       `json:"partSize,omitempty"`
	TotalParts int         `json:"totalParts,omitempty"`
	Received   int64       `json:"received"`
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

// Completion is what a finished upload reports back (LA §6.8): the client
// prints the quota and the container's web path.
type Completion struct {
	Ref        Ref
	QuotaTotal int64 // 0 means unlimited
	QuotaUsage int64
}

// copyBufs are the buffers request bodies are streamed through: 1 MiB
// reads keep syscalls few and memory per upload constant.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// copyBody streams at most limit bytes of r into w.
func copyBody(w io.Writer, r io.Reader, limit int64) (int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	n, err := io.CopyBuffer(w, io.LimitReader(r, limit), *buf)
	if err != nil {
		return n, apperr.Wrap(apperr.Invalid, err, "upload interrupted after %d bytes", n)
	}
	return n, nil
}

// imageForUpload loads an image the caller may upload to.
func (s *Service) imageForUpload(ctx context.Context, st meta.Store, p auth.Principal, imageID string) (Ref, meta.Image, error) {
	if err := requireUser(p); err != nil {
		return Ref{}, meta.Image{}, err
	}
	img, err := st.GetImage(ctx, imageID)
	if apperr.Is(err, apperr.NotFound) {
		return Ref{}, img, notFound("image", imageID)
	}
	if err != nil {
		return Ref{}, img, err
	}
	ref, err := s.containerRef(ctx, st, p, img.ContainerID)
	if err != nil {
		return ref, img, notFound("image", imageID)
	}
	return ref, img, s.writable(ctx, st, p, ref)
}

// newSession records an upload session; its id is the capability the
// upload URL carries.
func (s *Service) newSession(ctx context.Context, p auth.Principal, kind, imageID string, st uploadState) (meta.Upload, error) {
	if n, err := s.PurgeExpiredUploads(ctx); err != nil {
		httpx.Logger(ctx).Warn("purging expired uploads", "err", err)
	} else if n > 0 {
		httpx.Logger(ctx).Info("purged expired uploads", "count", n)
	}
	b, _ := json.Marshal(st)
	u := meta.Upload{ID: newToken(), Kind: kind, Target: imageID, State: string(b), UserID: p.UserID, ExpiresAt: s.now().Add(s.uploadTTL)}
	return u, s.meta.CreateUpload(ctx, &u)
}

// loadSession finds a live session of kind; expired ones are dropped.
func (s *Service) loadSession(ctx context.Context, id, kind string) (meta.Upload, uploadState, error) {
	var st uploadState
	u, err := s.meta.GetUpload(ctx, id)
	if err == nil && u.Kind != kind {
		err = apperr.New(apperr.NotFound, "wrong kind")
	}
	if apperr.Is(err, apperr.NotFound) {
		return u, st, apperr.New(apperr.NotFound, "upload session not found: unknown, expired or already completed")
	}
	if err != nil {
		return u, st, err
	}
	if !u.ExpiresAt.After(s.now()) {
		s.dropSession(ctx, u)
		return u, st, apperr.New(apperr.NotFound, "upload session expired")
	}
	if err := json.Unmarshal([]byte(u.State), &st); err != nil {
		return u, st, apperr.Wrap(apperr.Internal, err, "corrupt upload state")
	}
	return u, st, nil
}

// dropSession discards a session's bytes and record. It runs even when
// the request that failed was cancelled: a failed upload leaves nothing.
func (s *Service) dropSession(ctx context.Context, u meta.Upload) {
	ctx = context.WithoutCancel(ctx)
	if u.BlobUploadID != "" {
		if err := s.blobs.AbortUpload(ctx, u.BlobUploadID); err != nil && !apperr.Is(err, apperr.NotFound) {
			httpx.Logger(ctx).Warn("aborting blob upload", "err", err)
		}
	}
	if err := s.meta.DeleteUpload(ctx, u.ID); err != nil && !apperr.Is(err, apperr.NotFound) {
		httpx.Logger(ctx).Warn("deleting upload session", "err", err)
	}
}

// failSession drops the session and returns err (for one-line returns).
func (s *Service) failSession(ctx context.Context, u meta.Upload, err error) error {
	s.dropSession(ctx, u)
	return err
}

// saveState stores st after a write. The session must still be where this
// request found it (received bytes): another replica writing the same
// session concurrently makes one of the two fail here.
func (s *Service) saveState(ctx context.Context, u meta.Upload, prevReceived int64, st uploadState) error {
	var was uploadState
	if err := json.Unmarshal([]byte(u.State), &was); err != nil || was.Received != prevReceived {
		return apperr.New(apperr.Conflict, "upload session changed by another request")
	}
	b, _ := json.Marshal(st)
	prev := u.State
	u.State = string(b)
	// The swap fails if another request (possibly on another replica)
	// saved this session since u was loaded.
	return s.meta.SwapUpload(ctx, &u, prev)
}

// commit verifies a session's bytes against the image and publishes them.
// A mismatch removes the blob session (blob.Writer.Commit does).
func (s *Service) commit(ctx context.Context, w blob.Writer, img meta.Image, size int64) (blob.Info, error) {
	info, err := w.Commit(ctx, digest.Digest(img.Digest), size)
	if apperr.Is(err, apperr.Invalid) {
		return info, apperr.Wrap(apperr.Invalid, err, "upload rejected, it does not match image %s (%s): %s",
			img.ID, HashOf(img.Digest), apperr.MessageOf(err))
	}
	return info, err
}

// finish makes a verified blob the image's content: one transaction marks
// the image uploaded (with what the SIF header says) and removes the
// sessions that led there.
func (s *Service) finish(ctx context.Context, ref Ref, img meta.Image, info blob.Info, done ...meta.Upload) (Completion, error) {
	sm := s.readSIF(ctx, info.Digest)
	c := Completion{Ref: ref}
	err := s.meta.InTx(ctx, func(tx meta.Store) error {
		cur, err := tx.GetImage(ctx, img.ID)
		if apperr.Is(err, apperr.NotFound) {
			return apperr.New(apperr.NotFound, "image %s was deleted during the upload", img.ID)
		}
		if err != nil {
			return err
		}
		if _, err := s.markUploaded(ctx, tx, ref, cur, info.Size, sm); err != nil {
			return err
		}
		for _, u := range done {
			if err := tx.DeleteUpload(ctx, u.ID); err != nil && !apperr.Is(err, apperr.NotFound) {
				return err
			}
		}
		c.QuotaUsage, err = tx.EntityUsage(ctx, ref.Entity.ID)
		return err
	})
	return c, err
}

// markUploaded records a verified blob as img's content.
func (s *Service) markUploaded(ctx context.Context, tx meta.Store, ref Ref, img meta.Image, size int64, sm sifMeta) (meta.Image, error) {
	was := img.Uploaded
	img.Uploaded, img.Size = true, size
	if img.Arch == "" {
		img.Arch = sm.Arch
	}
	b, _ := json.Marshal(sm.Meta)
	img.Metadata = string(b)
	if err := tx.UpdateImage(ctx, &img); err != nil {
		return img, err
	}
	if sm.Labels != nil {
		if err := tx.SetLabels(ctx, img.ID, sm.Labels); err != nil {
			return img, err
		}
	}
	if !was && s.Mirror != nil {
		return img, s.Mirror.ImageUploaded(ctx, tx, ref, img)
	}
	return img, nil
}

// UploadImageFile answers the v1 raw upload, POST /v1/imagefile/{id}: the
// body is the whole file, verified against the image hash before anything
// becomes visible.
func (s *Service) UploadImageFile(ctx context.Context, p auth.Principal, imageID string, body io.Reader, length int64) (Completion, error) {
	ref, img, err := s.imageForUpload(ctx, s.meta, p, imageID)
	if err != nil {
		return Completion{}, err
	}
	w, err := s.blobs.NewUpload(ctx, digest.SHA256)
	if err != nil {
		return Completion{}, err
	}
	limit := int64(1<<63 - 1)
	if length >= 0 {
		limit = length + 1
	}
	if _, err := copyBody(w, body, limit); err != nil {
		w.Cancel(context.WithoutCancel(ctx))
		return Completion{}, err
	}
	info, err := s.commit(ctx, w, img, length)
	if err != nil {
		return Completion{}, err
	}
	return s.finish(ctx, ref, img, info)
}

// PurgeExpiredUploads drops library upload sessions past their expiry and
// returns how many. New sessions call it, so abandoned uploads do not pile
// up without a background job.
func (s *Service) PurgeExpiredUploads(ctx context.Context) (int, error) {
	ups, err := s.meta.ListExpiredUploads(ctx, s.now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range ups {
		if u.Kind != kindSingle && u.Kind != kindMultipart {
			continue
		}
		release, err := s.sessions.tryLock(u.ID)
		if err != nil {
			continue // in use right now; a later purge takes it
		}
		s.dropSession(ctx, u)
		release()
		n++
	}
	return n, nil
}
