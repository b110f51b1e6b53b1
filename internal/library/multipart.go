package library

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"io"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/upload"
)

// Multipart describes a started multipart upload (LA §6.8).
type Multipart struct {
	UploadID   string
	TotalParts int
	PartSize   int64
}

// PartRequest asks for a part's upload URL (L17).
type PartRequest struct {
	UploadID   string
	PartNumber int
	PartSize   int64
	SHA256     string // optional: the part's digest, checked on arrival
}

// CompletedPart is one entry of the completion list (L19).
type CompletedPart struct {
	PartNumber int
	Token      string // the ETag the part PUT returned, quotes included
}

// StartMultipart answers POST /v2/imagefile/{id}/_multipart (L16). Parts
// are appended in order to one session, so there is no total size limit
// and no part is ever buffered.
func (s *Service) StartMultipart(ctx context.Context, p auth.Principal, imageID string, filesize int64) (Multipart, error) {
	ref, img, err := s.imageForUpload(ctx, p, imageID)
	if err != nil {
		return Multipart{}, err
	}
	if filesize <= 0 {
		return Multipart{}, apperr.New(apperr.Invalid, "invalid filesize %d", filesize)
	}
	if err := s.precheck(ctx, ref, img, filesize); err != nil {
		return Multipart{}, err
	}
	// totalParts must be ceil(filesize/partSize): the client sends exactly
	// that many parts and would silently drop a tail (LA §11.3).
	total := int((filesize + s.partSize - 1) / s.partSize)
	st := uploadState{Filesize: filesize, PartSize: s.partSize, TotalParts: total}
	sess, err := s.uploads.Start(ctx, kindMultipart, img.ID, p.UserID, digest.SHA256, st,
		upload.Expect(digest.Digest(img.Digest)))
	return Multipart{UploadID: sess.ID, TotalParts: total, PartSize: s.partSize}, err
}

// multipartOf checks a session is img's multipart upload; a finished
// image's upload is over.
func multipartOf(img meta.Image, sess *upload.Session) (uploadState, error) {
	if sess.Target != img.ID {
		return uploadState{}, apperr.New(apperr.NotFound, "upload session %s is not for image %s", sess.ID, img.ID)
	}
	return stateOf(sess)
}

// overIfUploaded words an unknown session of an uploaded image.
func overIfUploaded(err error, img meta.Image) error {
	if apperr.Is(err, apperr.NotFound) && img.Uploaded {
		return apperr.New(apperr.Conflict, "image %s is already uploaded; this upload is over", img.ID)
	}
	return err
}

// nextPart checks part is the next one and returns how large it may be.
func nextPart(st uploadState, received int64, part int) (int64, error) {
	next := len(st.Parts) + 1
	if part != next {
		return 0, apperr.New(apperr.Invalid, "parts must be sent in order, one at a time: expected part %d, got %d", next, part)
	}
	if part > st.TotalParts || received >= st.Filesize {
		return 0, apperr.New(apperr.Invalid, "part %d is beyond the %d parts of this upload", part, st.TotalParts)
	}
	return min(st.PartSize, st.Filesize-received), nil
}

// PreparePart answers PUT /v2/imagefile/{id}/_multipart (L17): it checks
// the part is the next one; the transport then hands out the part's URL.
func (s *Service) PreparePart(ctx context.Context, p auth.Principal, imageID string, req PartRequest) error {
	_, img, err := s.imageForUpload(ctx, p, imageID)
	if err != nil {
		return err
	}
	sum := strings.ToLower(req.SHA256)
	if sum != "" && digest.SHA256.Validate(sum) != nil {
		return apperr.New(apperr.Invalid, "invalid sha256sum %q", req.SHA256)
	}
	_, err = s.uploads.Update(ctx, req.UploadID, kindMultipart, func(sess *upload.Session) error {
		st, err := multipartOf(img, sess)
		if err != nil {
			return err
		}
		limit, err := nextPart(st, sess.Offset, req.PartNumber)
		if err != nil {
			return err
		}
		if req.PartSize <= 0 || req.PartSize > limit {
			return apperr.New(apperr.Invalid, "part %d must have 1 to %d bytes, not %d", req.PartNumber, limit, req.PartSize)
		}
		st.NextSHA256 = sum
		saveState(sess, st)
		return nil
	})
	return overIfUploaded(err, img)
}

// hashingReader hashes what it reads once h is set (before the first
// Read): a part is hashed on its own only when the client announced its
// sha256 (S3-compliant mode, which we do not ask for); the whole file's
// sha256 is verified at completion anyway, and a second hash pass would
// halve the upload rate on small machines.
type hashingReader struct {
	r io.Reader
	h hash.Hash
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	if hr.h != nil {
		hr.h.Write(p[:n])
	}
	return n, err
}

// WritePart answers the PUT to a part URL (L18); the URL is the
// credential. The part is appended to the session; its ETag is a random
// token recorded with the part, which the completion must list. Any
// failure after the first byte ends the whole upload, as the client
// itself aborts after a failed part.
func (s *Service) WritePart(ctx context.Context, uploadID string, part int, body io.Reader, length int64) (string, error) {
	var st uploadState
	hr := &hashingReader{r: body}
	etag := newPartToken()
	started := false // a part refused before its first byte leaves the upload as it was
	_, err := s.uploads.Append(ctx, upload.Append{ID: uploadID, Kind: kindMultipart, At: -1, Body: hr, Length: length,
		Check: func(sess *upload.Session) (int64, error) {
			var err error
			if st, err = stateOf(sess); err != nil {
				return 0, err
			}
			limit, err := nextPart(st, sess.Offset, part)
			if err == nil && length == 0 {
				err = apperr.New(apperr.Invalid, "part %d must have 1 to %d bytes, not 0", part, limit)
			}
			if st.NextSHA256 != "" {
				hr.h = sha256.New()
			}
			started = err == nil
			return limit, err
		},
		Done: func(sess *upload.Session, n int64) error {
			if n == 0 {
				return apperr.New(apperr.Invalid, "part %d is empty", part)
			}
			if hr.h != nil && hex.EncodeToString(hr.h.Sum(nil)) != st.NextSHA256 {
				return apperr.New(apperr.Invalid, "part %d does not match its announced sha256sum", part)
			}
			st.Parts = append(st.Parts, partState{Number: part, Size: n, ETag: etag})
			st.NextSHA256 = ""
			saveState(sess, st)
			return nil
		}})
	if err != nil && started {
		err = s.abortIf(ctx, uploadID, kindMultipart, err)
	}
	if err != nil {
		return "", err
	}
	return `"` + etag + `"`, nil
}

// CompleteMultipart answers PUT /v2/imagefile/{id}/_multipart_complete
// (L19). The client does not notice a short upload, so this checks every
// part token, the total size and the sha256 of the whole file before the
// image becomes visible; any mismatch ends the upload and leaves nothing.
func (s *Service) CompleteMultipart(ctx context.Context, p auth.Principal, imageID, uploadID string, parts []CompletedPart) (Completion, error) {
	ref, img, err := s.imageForUpload(ctx, p, imageID)
	if err != nil {
		return Completion{}, err
	}
	info, _, err := s.uploads.Commit(ctx, upload.Commit{ID: uploadID, Kind: kindMultipart,
		Check: func(sess *upload.Session) error {
			st, err := multipartOf(img, sess)
			if err == nil {
				err = checkParts(st, sess.Offset, parts)
			}
			return err
		},
		Digest: digest.Digest(img.Digest), Size: -1, At: -1, Length: -1})
	if err != nil {
		return Completion{}, overIfUploaded(rejected(s.abortIf(ctx, uploadID, kindMultipart, err), img), img)
	}
	c, err := s.finish(ctx, ref, img, info)
	if err == nil {
		s.dropImageSessions(ctx, img.ID, "")
	}
	return c, err
}

// checkParts compares the client's part list with the parts received.
func checkParts(st uploadState, received int64, parts []CompletedPart) error {
	if received != st.Filesize {
		return apperr.New(apperr.Invalid, "upload incomplete: received %d of %d bytes", received, st.Filesize)
	}
	if len(parts) != len(st.Parts) {
		return apperr.New(apperr.Invalid, "upload lists %d parts, %d were received", len(parts), len(st.Parts))
	}
	sorted := append([]CompletedPart(nil), parts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].PartNumber < sorted[j].PartNumber })
	for i, cp := range sorted {
		got := st.Parts[i]
		if cp.PartNumber != got.Number || subtle.ConstantTimeCompare([]byte(strings.Trim(cp.Token, `"`)), []byte(got.ETag)) != 1 {
			return apperr.New(apperr.Invalid, "part %d: token does not match the part received", cp.PartNumber)
		}
	}
	return nil
}

// AbortMultipart answers PUT /v2/imagefile/{id}/_multipart_abort (L20).
func (s *Service) AbortMultipart(ctx context.Context, p auth.Principal, imageID, uploadID string) error {
	_, img, err := s.imageForUpload(ctx, p, imageID)
	if err != nil {
		return err
	}
	sess, err := s.uploads.Get(ctx, uploadID, kindMultipart)
	if err == nil {
		_, err = multipartOf(img, &sess)
	}
	if err != nil {
		return overIfUploaded(err, img)
	}
	return s.uploads.Abort(ctx, uploadID, kindMultipart)
}

// newPartToken returns the ETag of a received part: random, so a client
// cannot complete with parts it did not send.
func newPartToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
