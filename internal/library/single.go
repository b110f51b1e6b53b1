package library

import (
	"context"
	"io"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/meta"
)

// StartUpload answers POST /v2/imagefile/{id} (LA §4 L13): it opens a
// single-part session and returns its id, the capability the upload URL
// carries. A sha256sum the client announces must be the image's hash.
func (s *Service) StartUpload(ctx context.Context, p auth.Principal, imageID string, filesize int64, sha256sum string) (string, error) {
	_, img, err := s.imageForUpload(ctx, s.meta, p, imageID)
	if err != nil {
		return "", err
	}
	if filesize < 0 {
		return "", apperr.New(apperr.Invalid, "invalid filesize %d", filesize)
	}
	if sha256sum != "" && hashPrefix+strings.ToLower(sha256sum) != HashOf(img.Digest) {
		return "", apperr.New(apperr.Invalid, "sha256sum %s does not match image hash %s", sha256sum, HashOf(img.Digest))
	}
	u, err := s.newSession(ctx, p, kindSingle, img.ID, uploadState{Filesize: filesize})
	return u.ID, err
}

// WriteUpload answers the PUT to a single-part upload URL (L14). The URL
// is the credential. The body streams into a new blob session; nothing is
// visible until CompleteUpload verifies it. A wrong size ends the session.
func (s *Service) WriteUpload(ctx context.Context, id string, body io.Reader, length int64) error {
	release, err := s.sessions.tryLock(id)
	if err != nil {
		return err
	}
	defer release()
	u, st, err := s.loadSession(ctx, id, kindSingle)
	if err != nil {
		return err
	}
	if st.Done {
		return apperr.New(apperr.Conflict, "this upload already has its data; complete it")
	}
	if length >= 0 && length != st.Filesize {
		return s.failSession(ctx, u, apperr.New(apperr.Invalid, "upload of %d bytes announced, got Content-Length %d", st.Filesize, length))
	}
	w, err := s.blobs.NewUpload(ctx, "")
	if err != nil {
		return err
	}
	u.BlobUploadID = w.ID()
	n, err := copyBody(w, body, st.Filesize+1)
	if err == nil && n != st.Filesize {
		err = apperr.New(apperr.Invalid, "upload of %d bytes announced, got %d", st.Filesize, n)
	}
	if err == nil {
		err = w.Close()
	} else {
		w.Cancel(context.WithoutCancel(ctx))
	}
	if err != nil {
		return s.failSession(ctx, u, err)
	}
	st.Received, st.Done = n, true
	if err := s.saveState(ctx, u, 0, st); err != nil {
		return s.failSession(ctx, u, err)
	}
	return nil
}

// CompleteUpload answers PUT /v2/imagefile/{id}/_complete (L15), which
// names only the image: the newest session whose data arrived is verified
// (size and sha256 against the image) and committed; the image's other
// sessions are dropped.
func (s *Service) CompleteUpload(ctx context.Context, p auth.Principal, imageID string) (Completion, error) {
	ref, img, err := s.imageForUpload(ctx, s.meta, p, imageID)
	if err != nil {
		return Completion{}, err
	}
	ups, err := s.meta.ListUploadsFor(ctx, kindSingle, img.ID)
	if err != nil {
		return Completion{}, err
	}
	for _, cand := range ups {
		release, err := s.sessions.tryLock(cand.ID)
		if err != nil {
			continue
		}
		u, st, err := s.loadSession(ctx, cand.ID, kindSingle)
		if err != nil || !st.Done {
			release()
			continue
		}
		c, err := s.completeSession(ctx, ref, img, u, st)
		release()
		if err == nil {
			s.dropImageSessions(ctx, img.ID, u.ID)
		}
		return c, err
	}
	if img.Uploaded {
		return Completion{}, apperr.New(apperr.Conflict, "image %s is already uploaded", img.ID)
	}
	return Completion{}, apperr.New(apperr.NotFound, "no finished upload for image %s: PUT the file to its upload URL first", img.ID)
}

func (s *Service) completeSession(ctx context.Context, ref Ref, img meta.Image, u meta.Upload, st uploadState) (Completion, error) {
	w, err := s.blobs.ResumeUpload(ctx, u.BlobUploadID)
	if err != nil {
		return Completion{}, s.failSession(ctx, u, err)
	}
	info, err := s.commit(ctx, w, img, st.Filesize)
	if err != nil {
		return Completion{}, s.failSession(ctx, u, err)
	}
	c, err := s.finish(ctx, ref, img, info, u)
	if err != nil {
		// The verified blob stays for the garbage collector.
		return c, s.failSession(ctx, u, err)
	}
	return c, nil
}

// dropImageSessions drops every upload session of an image but keep:
// uploads that lost the race or were abandoned once the image is
// complete, and all of them once it is deleted.
func (s *Service) dropImageSessions(ctx context.Context, imageID, keep string) {
	for _, kind := range []string{kindSingle, kindMultipart} {
		ups, err := s.meta.ListUploadsFor(ctx, kind, imageID)
		if err != nil {
			httpx.Logger(ctx).Warn("listing upload sessions", "image", imageID, "err", err)
			continue
		}
		s.dropOthers(ctx, ups, keep)
	}
}

// dropOthers drops the sessions of ups other than keep (uploads of the
// same image that lost the race or were abandoned).
func (s *Service) dropOthers(ctx context.Context, ups []meta.Upload, keep string) {
	for _, u := range ups {
		if u.ID == keep {
			continue
		}
		release, err := s.sessions.tryLock(u.ID)
		if err != nil {
			continue
		}
		// Reload: the session may have written since ups was listed.
		if cur, err := s.meta.GetUpload(ctx, u.ID); err == nil {
			s.dropSession(ctx, cur)
		}
		release()
	}
}
