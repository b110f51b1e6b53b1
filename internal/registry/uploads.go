package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// uploadKind marks OCI blob upload sessions among the uploads rows.
const uploadKind = "oci"

// uploadTTL is how long an idle session is kept before GC may remove it.
const uploadTTL = 24 * time.Hour

// copyBufSize is the read size for request bodies. Large reads mean few
// write syscalls and hash calls per gigabyte.
const copyBufSize = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// copyBody streams body into w with a pooled 1 MiB buffer.
func copyBody(w io.Writer, body io.Reader) (int64, error) {
	if body == nil {
		return 0, nil
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	n, err := io.CopyBuffer(w, body, *bp)
	if err != nil && !apperr.Is(err, apperr.Internal) {
		// The client went away or sent less than it announced.
		err = oci.WithCode(oci.CodeBlobUploadInvalid, apperr.Wrap(apperr.Invalid, err, "reading request body"))
	}
	return n, err
}

// uploadState is the JSON kept in the uploads row between requests.
type uploadState struct {
	Offset    int64            `json:"offset"`
	Algorithm digest.Algorithm `json:"algorithm,omitempty"`
}

// Upload is the state of an upload session as the client sees it.
type Upload struct {
	ID     string
	Offset int64 // bytes received so far
}

// Range is a chunk's Content-Range (inclusive, no "bytes " prefix).
type Range struct{ Start, End int64 }

// StartUpload is a POST to /blobs/uploads/ (end-4a, end-4b, end-11).
type StartUpload struct {
	Digest    string    // single-POST monolithic upload when set
	Algorithm string    // digest-algorithm for the session, "" for sha256
	Mount     string    // digest to mount
	From      string    // repository to mount from
	Body      io.Reader // the blob, with Digest
}

// Started says how a POST ended: Blob is set when the blob is now in the
// repository (mounted or uploaded whole), Upload otherwise.
type Started struct {
	Blob   digest.Digest
	Upload Upload
}

// StartUpload begins a blob upload, mounts a blob, or stores a whole blob
// sent in the POST.
func (s *Service) StartUpload(ctx context.Context, c Caller, name string, req StartUpload) (Started, error) {
	var repo meta.Repository
	err := s.tx(ctx, func(tx meta.Store) (err error) {
		repo, err = s.pushRepo(ctx, tx, c, name, oci.ActionPush)
		return err
	})
	if err != nil {
		return Started{}, err
	}
	if req.Mount != "" {
		d, err := oci.ParseDigest(req.Mount)
		if err != nil {
			return Started{}, err
		}
		if ok, err := s.mount(ctx, c, repo, d, req.From); err != nil || ok {
			return Started{Blob: d}, err
		}
	}
	if req.Digest != "" {
		d, err := oci.ParseDigest(req.Digest)
		if err != nil {
			return Started{}, err
		}
		return Started{Blob: d}, s.putWhole(ctx, repo, d, req.Body)
	}
	alg := digest.Algorithm(req.Algorithm)
	if alg != "" && !oci.SupportedAlgorithm(alg) {
		return Started{}, oci.Errorf(oci.CodeDigestInvalid, apperr.Invalid, "unsupported digest algorithm %q", alg)
	}
	return s.newSession(ctx, c, repo, alg)
}

// mount links d from repository from into repo when the caller may read
// from and d is there. Anything else is not an error: the client gets an
// upload session instead (spec end-11, 202).
func (s *Service) mount(ctx context.Context, c Caller, repo meta.Repository, d digest.Digest, from string) (bool, error) {
	if from == "" || !oci.ValidName(from) || !c.allows("repository", from, oci.ActionPull) {
		return false, nil
	}
	src, ok, err := s.readable(ctx, c.Principal, from)
	if err != nil || !ok || src.ID == "" {
		return false, err
	}
	if _, err := s.meta.GetRepositoryBlob(ctx, src.ID, d.String()); err != nil {
		return false, nil
	}
	return true, s.meta.LinkBlob(ctx, repo.ID, d.String())
}

// putWhole stores a blob sent whole in one request.
func (s *Service) putWhole(ctx context.Context, repo meta.Repository, d digest.Digest, body io.Reader) error {
	w, err := s.blobs.NewUpload(ctx, d.Algorithm())
	if err != nil {
		return err
	}
	if _, err := copyBody(w, body); err != nil {
		return errors.Join(err, w.Cancel(ctx))
	}
	info, err := w.Commit(ctx, d, -1)
	if err != nil {
		return commitErr(err)
	}
	return s.tx(ctx, func(tx meta.Store) error { return recordBlob(ctx, tx, repo.ID, info) })
}

// newSession records an upload session. The blob store session is made
// by the first request that brings bytes: a monolithic POST+PUT (what
// oras, skopeo and podman send) then writes straight into one fresh blob
// session and commits it, with no empty session saved and reopened.
func (s *Service) newSession(ctx context.Context, c Caller, repo meta.Repository, alg digest.Algorithm) (Started, error) {
	b, _ := json.Marshal(uploadState{Algorithm: alg})
	u := meta.Upload{Kind: uploadKind, Target: repo.Name, State: string(b),
		UserID: c.UserID, ExpiresAt: s.now().Add(uploadTTL)}
	if err := s.meta.CreateUpload(ctx, &u); err != nil {
		return Started{}, err
	}
	return Started{Upload: Upload{ID: u.ID}}, nil
}

// openSession opens the blob store session of u, starting it if no bytes
// have arrived yet.
func (s *Service) openSession(ctx context.Context, u *meta.Upload, st uploadState) (blob.Writer, error) {
	if u.BlobUploadID == "" {
		w, err := s.blobs.NewUpload(ctx, st.Algorithm)
		if err == nil {
			u.BlobUploadID = w.ID()
		}
		return w, err
	}
	w, err := s.blobs.ResumeUpload(ctx, u.BlobUploadID)
	return w, notFound(err, oci.CodeBlobUploadUnknown, "blob upload")
}

// lockSession keeps two requests of one process off one upload session:
// two writers appending to one blob session would corrupt it. (Clients send
// a session's requests one after another; replicas are not coordinated.)
func (s *Service) lockSession(id string) (func(), error) {
	if _, busy := s.busy.LoadOrStore(id, struct{}{}); busy {
		return nil, oci.Errorf(oci.CodeTooManyRequests, apperr.Unavailable, "upload session is busy with another request")
	}
	return func() { s.busy.Delete(id) }, nil
}

// session authorizes a request on upload id of repository name.
func (s *Service) session(ctx context.Context, c Caller, name, id string) (meta.Repository, meta.Upload, uploadState, error) {
	var st uploadState
	var repo meta.Repository
	err := s.tx(ctx, func(tx meta.Store) (err error) {
		repo, err = s.pushRepo(ctx, tx, c, name, oci.ActionPush)
		return err
	})
	if err != nil {
		return repo, meta.Upload{}, st, err
	}
	u, err := s.meta.GetUpload(ctx, id)
	if err == nil && (u.Kind != uploadKind || u.Target != name) {
		err = apperr.New(apperr.NotFound, "upload of another repository")
	}
	if err == nil {
		err = json.Unmarshal([]byte(u.State), &st)
	}
	return repo, u, st, notFound(err, oci.CodeBlobUploadUnknown, "blob upload")
}

// outOfOrder is the error for a chunk that does not start where the
// session ends (416 on the wire).
func outOfOrder(offset int64) error {
	return oci.Errorf(oci.CodeBlobUploadInvalid, apperr.Conflict, "chunk out of order: upload is at offset %d", offset)
}

// write appends body to the session and saves the new offset.
func (s *Service) write(ctx context.Context, u *meta.Upload, st *uploadState, rng *Range, body io.Reader) error {
	if rng != nil && rng.Start != st.Offset {
		return outOfOrder(st.Offset)
	}
	w, err := s.openSession(ctx, u, *st)
	if err != nil {
		return err
	}
	_, cerr := copyBody(w, body)
	// Close even after a failed copy: what reached the session stays, and
	// the status endpoint reports it so the client can resume.
	if err := w.Close(); err != nil {
		return errors.Join(cerr, err)
	}
	st.Offset = w.Size()
	b, _ := json.Marshal(st)
	prev := u.State
	u.State, u.ExpiresAt = string(b), s.now().Add(uploadTTL)
	// A client that went away cancelled ctx; the bytes it sent are in the
	// session all the same, so the offset must be saved regardless, or
	// the status would send the client back before them. The swap fails
	// if another replica wrote the session meanwhile.
	return errors.Join(cerr, s.meta.SwapUpload(context.WithoutCancel(ctx), u, prev))
}

// AppendUpload is a PATCH: a chunk (rng set) or a streamed body (end-5).
func (s *Service) AppendUpload(ctx context.Context, c Caller, name, id string, rng *Range, body io.Reader) (Upload, error) {
	unlock, err := s.lockSession(id)
	if err != nil {
		return Upload{}, err
	}
	defer unlock()
	_, u, st, err := s.session(ctx, c, name, id)
	if err != nil {
		return Upload{}, err
	}
	err = s.write(ctx, &u, &st, rng, body)
	return Upload{ID: id, Offset: st.Offset}, err
}

// FinishUpload is the closing PUT (end-6), optionally with a last chunk.
func (s *Service) FinishUpload(ctx context.Context, c Caller, name, id, d string, rng *Range, body io.Reader) (digest.Digest, error) {
	unlock, err := s.lockSession(id)
	if err != nil {
		return "", err
	}
	defer unlock()
	dg, err := oci.ParseDigest(d)
	if err != nil {
		return "", err
	}
	repo, u, st, err := s.session(ctx, c, name, id)
	if err != nil {
		return "", err
	}
	if rng != nil && rng.Start != st.Offset {
		return "", outOfOrder(st.Offset)
	}
	w, err := s.openSession(ctx, &u, st)
	if err != nil {
		return "", err
	}
	if _, err := copyBody(w, body); err != nil {
		// Keep what arrived, so the client can resume from the status.
		err = errors.Join(err, w.Close())
		st.Offset = w.Size()
		b, _ := json.Marshal(st)
		prev := u.State
		u.State = string(b)
		return "", errors.Join(err, s.meta.SwapUpload(context.WithoutCancel(ctx), &u, prev))
	}
	info, err := w.Commit(ctx, dg, -1)
	if err != nil {
		if apperr.Is(err, apperr.Invalid) {
			// A mismatch removed the blob session; the upload is over.
			_ = s.meta.DeleteUpload(ctx, u.ID)
		}
		return "", commitErr(err)
	}
	return dg, s.tx(ctx, func(tx meta.Store) error {
		if err := recordBlob(ctx, tx, repo.ID, info); err != nil {
			return err
		}
		return tx.DeleteUpload(ctx, u.ID)
	})
}

// commitErr names a failed commit's OCI code: the content did not match.
func commitErr(err error) error {
	if apperr.Is(err, apperr.Invalid) {
		return oci.WithCode(oci.CodeDigestInvalid, err)
	}
	return err
}

// UploadStatus is GET on a session (end-13).
func (s *Service) UploadStatus(ctx context.Context, c Caller, name, id string) (Upload, error) {
	_, _, st, err := s.session(ctx, c, name, id)
	return Upload{ID: id, Offset: st.Offset}, err
}

// CancelUpload is DELETE on a session (end-14).
func (s *Service) CancelUpload(ctx context.Context, c Caller, name, id string) error {
	unlock, err := s.lockSession(id)
	if err != nil {
		return err
	}
	defer unlock()
	_, u, _, err := s.session(ctx, c, name, id)
	if err != nil {
		return err
	}
	if err := s.meta.DeleteUpload(ctx, u.ID); err != nil {
		return notFound(err, oci.CodeBlobUploadUnknown, "blob upload")
	}
	if u.BlobUploadID == "" {
		return nil
	}
	if err := s.blobs.AbortUpload(ctx, u.BlobUploadID); err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	return nil
}
