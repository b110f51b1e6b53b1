package library

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/upload"
)

// StartUpload answers POST /v2/imagefile/{id} (LA §4 L13): it opens a
// single-part session and returns its id, the capability the upload URL
// carries. A sha256sum the client announces must be the image's hash.
func (s *Service) StartUpload(ctx context.Context, p auth.Principal, imageID string, filesize int64, sha256sum string) (string, error) {
	ref, img, err := s.imageForUpload(ctx, p, imageID)
	if err != nil {
		return "", err
	}
	if filesize < 0 {
		return "", apperr.New(apperr.Invalid, "invalid filesize %d", filesize)
	}
	if sha256sum != "" && hashPrefix+strings.ToLower(sha256sum) != HashOf(img.Digest) {
		return "", apperr.New(apperr.Invalid, "sha256sum %s does not match image hash %s", sha256sum, HashOf(img.Digest))
	}
	if err := s.precheck(ctx, ref, img, filesize); err != nil {
		return "", err
	}
	sess, err := s.uploads.Start(ctx, kindSingle, img.ID, p.UserID, digest.SHA256, uploadState{Filesize: filesize},
		upload.Expect(digest.Digest(img.Digest)))
	return sess.ID, err
}

// WriteUpload answers the PUT to a single-part upload URL (L14). The URL
// is the credential. The body streams into the session; nothing is
// visible until CompleteUpload verifies it. A wrong size ends the session.
func (s *Service) WriteUpload(ctx context.Context, id string, body io.Reader, length int64) error {
	var st uploadState
	_, err := s.uploads.Append(ctx, upload.Append{ID: id, Kind: kindSingle, At: -1, Body: body, Length: length,
		Check: func(sess *upload.Session) (int64, error) {
			var err error
			if st, err = stateOf(sess); err != nil {
				return 0, err
			}
			if st.Done || sess.Offset > 0 {
				return 0, apperr.New(apperr.Conflict, "this upload already has its data; complete it")
			}
			if length >= 0 && length != st.Filesize {
				return 0, apperr.New(apperr.Invalid, "upload of %d bytes announced, got Content-Length %d", st.Filesize, length)
			}
			return st.Filesize, nil
		},
		Done: func(sess *upload.Session, n int64) error {
			if n != st.Filesize {
				return apperr.New(apperr.Invalid, "upload of %d bytes announced, got %d", st.Filesize, n)
			}
			st.Done = true
			saveState(sess, st)
			return nil
		}})
	return s.abortIf(ctx, id, kindSingle, err)
}

// CompleteUpload answers PUT /v2/imagefile/{id}/_complete (L15), which
// names only the image: the newest session whose data arrived is verified
// (size and sha256 against the image) and committed; the image's other
// sessions end.
func (s *Service) CompleteUpload(ctx context.Context, p auth.Principal, imageID string) (Completion, error) {
	ref, img, err := s.imageForUpload(ctx, p, imageID)
	if err != nil {
		return Completion{}, err
	}
	sessions, err := s.uploads.List(ctx, kindSingle, img.ID)
	if err != nil {
		return Completion{}, err
	}
	for _, cand := range sessions {
		info, _, err := s.uploads.Commit(ctx, upload.Commit{ID: cand.ID, Kind: kindSingle,
			Check: func(sess *upload.Session) error {
				st, err := stateOf(sess)
				if err == nil && !st.Done {
					err = errNotDone
				}
				return err
			},
			Digest: digest.Digest(img.Digest), Size: -1, At: -1, Length: -1})
		if errors.Is(err, errNotDone) || apperr.Is(err, apperr.Unavailable) || apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return Completion{}, rejected(err, img)
		}
		c, err := s.finish(ctx, ref, img, info)
		if err == nil {
			s.dropImageSessions(ctx, img.ID, "")
		}
		return c, err
	}
	if img.Uploaded {
		return Completion{}, apperr.New(apperr.Conflict, "image %s is already uploaded", img.ID)
	}
	return Completion{}, apperr.New(apperr.NotFound, "no finished upload for image %s: PUT the file to its upload URL first", img.ID)
}

// errNotDone skips a session whose data has not arrived.
var errNotDone = apperr.New(apperr.Conflict, "upload has no data yet")
