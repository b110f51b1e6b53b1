package library

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/meta"
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

var hexDigestRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// StartMultipart answers POST /v2/imagefile/{id}/_multipart (L16). Parts
// are appended in order to one blob session, so there is no total size
// limit and no part is ever buffered.
func (s *Service) StartMultipart(ctx context.Context, p auth.Principal, imageID string, filesize int64) (Multipart, error) {
	_, img, err := s.imageForUpload(ctx, s.meta, p, imageID)
	if err != nil {
		return Multipart{}, err
	}
	if filesize <= 0 {
		return Multipart{}, apperr.New(apperr.Invalid, "invalid filesize %d", filesize)
	}
	// totalParts must be ceil(filesize/partSize): the client sends exactly
	// that many parts and would silently drop a tail (LA §11.3).
	total := int((filesize + s.partSize - 1) / s.partSize)
	st := uploadState{Filesize: filesize, PartSize: s.partSize, TotalParts: total}
	u, err := s.newSession(ctx, p, kindMultipart, img.ID, st)
	return Multipart{UploadID: u.ID, TotalParts: total, PartSize: s.partSize}, err
}

// multipartSession loads and locks an image's multipart session.
func (s *Service) multipartSession(ctx context.Context, img meta.Image, uploadID string) (meta.Upload, uploadState, func(), error) {
	release, err := s.sessions.tryLock(uploadID)
	if err != nil {
		return meta.Upload{}, uploadState{}, nil, err
	}
	u, st, err := s.loadSession(ctx, uploadID, kindMultipart)
	if err == nil && u.Target != img.ID {
		err = apperr.New(apperr.NotFound, "upload session %s is not for image %s", uploadID, img.ID)
	}
	if err != nil {
		release()
		if apperr.Is(err, apperr.NotFound) && img.Uploaded {
			err = apperr.New(apperr.Conflict, "image %s is already uploaded; this upload is over", img.ID)
		}
		return u, st, nil, err
	}
	return u, st, release, nil
}

// nextPart checks part is the next one and returns how large it may be.
func nextPart(st uploadState, part int) (int64, error) {
	next := len(st.Parts) + 1
	if part != next {
		return 0, apperr.New(apperr.Invalid, "parts must be sent in order, one at a time: expected part %d, got %d", next, part)
	}
	if part > st.TotalParts || st.Received >= st.Filesize {
		return 0, apperr.New(apperr.Invalid, "part %d is beyond the %d parts of this upload", part, st.TotalParts)
	}
	return min(st.PartSize, st.Filesize-st.Received), nil
}

// PreparePart answers PUT /v2/imagefile/{id}/_multipart (L17): it checks
// the part is the next one; the transport then hands out the part's URL.
func (s *Service) PreparePart(ctx context.Context, p auth.Principal, imageID string, req PartRequest) error {
	_, img, err := s.imageForUpload(ctx, s.meta, p, imageID)
	if err != nil {
		return err
	}
	u, st, release, err := s.multipartSession(ctx, img, req.UploadID)
	if err != nil {
		return err
	}
	defer release()
	limit, err := nextPart(st, req.PartNumber)
	if err != nil {
		return err
	}
	if req.PartSize <= 0 || req.PartSize > limit {
		return apperr.New(apperr.Invalid, "part %d must have 1 to %d bytes, not %d", req.PartNumber, limit, req.PartSize)
	}
	sum := strings.ToLower(req.SHA256)
	if sum != "" && !hexDigestRe.MatchString(sum) {
		return apperr.New(apperr.Invalid, "invalid sha256sum %q", req.SHA256)
	}
	if sum == st.NextSHA256 {
		return nil
	}
	st.NextSHA256 = sum
	return s.saveState(ctx, u, st.Received, st)
}

// WritePart answers the PUT to a part URL (L18); the URL is the
// credential. The part is appended to the session's blob; its ETag is a
// random token recorded with the part, which the completion must list.
// Any failure after the first byte ends the whole upload, as the client
// itself aborts after a failed part.
func (s *Service) WritePart(ctx context.Context, uploadID string, part int, body io.Reader, length int64) (string, error) {
	release, err := s.sessions.tryLock(uploadID)
	if err != nil {
		return "", err
	}
	defer release()
	u, st, err := s.loadSession(ctx, uploadID, kindMultipart)
	if err != nil {
		return "", err
	}
	limit, err := nextPart(st, part)
	if err != nil {
		return "", err
	}
	if length == 0 || length > limit {
		return "", apperr.New(apperr.Invalid, "part %d must have 1 to %d bytes, not %d", part, limit, length)
	}
	var w blob.Writer
	if u.BlobUploadID == "" {
		w, err = s.blobs.NewUpload(ctx, "")
	} else {
		w, err = s.blobs.ResumeUpload(ctx, u.BlobUploadID)
	}
	if err != nil {
		return "", s.failSession(ctx, u, err)
	}
	u.BlobUploadID = w.ID()
	if w.Size() != st.Received {
		w.Cancel(context.WithoutCancel(ctx))
		return "", s.failSession(ctx, u, apperr.New(apperr.Internal, "upload session out of step: %d bytes stored, %d recorded", w.Size(), st.Received))
	}
	// A part is hashed on its own only when the client announced its
	// sha256 (S3-compliant mode, which we do not ask for): the whole file's
	// sha256 is verified at completion anyway, and a second hash pass would
	// halve the upload rate on small machines.
	dst, h := io.Writer(w), hash.Hash(nil)
	if st.NextSHA256 != "" {
		h = sha256.New()
		dst = io.MultiWriter(w, h)
	}
	n, err := copyBody(dst, body, limit+1)
	switch {
	case err != nil:
	case n == 0 || n > limit:
		err = apperr.New(apperr.Invalid, "part %d must have 1 to %d bytes, got %d or more", part, limit, n)
	case h != nil && hex.EncodeToString(h.Sum(nil)) != st.NextSHA256:
		err = apperr.New(apperr.Invalid, "part %d does not match its announced sha256sum", part)
	}
	if err != nil {
		w.Cancel(context.WithoutCancel(ctx))
		return "", s.failSession(ctx, u, err)
	}
	if err := w.Close(); err != nil {
		return "", s.failSession(ctx, u, err)
	}
	prev := st.Received
	etag := newPartToken()
	st.Parts = append(st.Parts, partState{Number: part, Size: n, ETag: etag})
	st.Received += n
	st.NextSHA256 = ""
	if err := s.saveState(ctx, u, prev, st); err != nil {
		return "", s.failSession(ctx, u, err)
	}
	return `"` + etag + `"`, nil
}

// CompleteMultipart answers PUT /v2/imagefile/{id}/_multipart_complete
// (L19). The client does not notice a short upload, so this checks every
// part token, the total size and the sha256 of the whole file before the
// image becomes visible; any mismatch ends the upload and leaves nothing.
func (s *Service) CompleteMultipart(ctx context.Context, p auth.Principal, imageID, uploadID string, parts []CompletedPart) (Completion, error) {
	ref, img, err := s.imageForUpload(ctx, s.meta, p, imageID)
	if err != nil {
		return Completion{}, err
	}
	u, st, release, err := s.multipartSession(ctx, img, uploadID)
	if err != nil {
		return Completion{}, err
	}
	defer release()
	if err := checkParts(st, parts); err != nil {
		return Completion{}, s.failSession(ctx, u, err)
	}
	c, err := s.completeSession(ctx, ref, img, u, st)
	if err == nil {
		s.dropImageSessions(ctx, img.ID, u.ID)
	}
	return c, err
}

// checkParts compares the client's part list with the parts received.
func checkParts(st uploadState, parts []CompletedPart) error {
	if st.Received != st.Filesize {
		return apperr.New(apperr.Invalid, "upload incomplete: received %d of %d bytes", st.Received, st.Filesize)
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
	_, img, err := s.imageForUpload(ctx, s.meta, p, imageID)
	if err != nil {
		return err
	}
	u, _, release, err := s.multipartSession(ctx, img, uploadID)
	if err != nil {
		return err
	}
	defer release()
	s.dropSession(ctx, u)
	return nil
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
