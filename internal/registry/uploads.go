package registry

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
	"github.com/silo-hpc/silo/internal/quota"
	"github.com/silo-hpc/silo/internal/upload"
)

// uploadKind marks OCI blob upload sessions (internal/upload).
const uploadKind = "oci"

// Upload is the state of an upload session as the client sees it.
type Upload struct {
	ID     string
	Offset int64 // bytes received so far
}

// Chunk is the body of a PATCH or closing PUT: Start is where the client
// says it begins (Content-Range; -1 without one) and Length how many bytes
// it brings (from Content-Range or Content-Length; -1 when unknown).
type Chunk struct {
	Start, Length int64
	Body          io.Reader
}

// StartUpload is a POST to /blobs/uploads/ (end-4a, end-4b, end-11).
type StartUpload struct {
	Digest    string // single-POST monolithic upload when set
	Algorithm string // digest-algorithm for the session, "" for sha256
	Mount     string // digest to mount
	From      string // repository to mount from
	Body      Chunk  // the blob, with Digest
}

// Started says how a POST ended: Blob is set when the blob is now in the
// repository (mounted or uploaded whole), Upload otherwise.
type Started struct {
	Blob   digest.Digest
	Upload Upload
}

// authorizePush decides whether c may push to name without writing
// anything: nothing exists because of a request before a byte of it is
// accepted.
func (s *Service) authorizePush(ctx context.Context, c Caller, name string) error {
	return s.view(ctx, func(st Store) error {
		_, err := s.push(ctx, st, c, name, oci.ActionPush, false)
		return err
	})
}

// StartUpload begins a blob upload, mounts a blob, or stores a whole blob
// sent in the POST.
func (s *Service) StartUpload(ctx context.Context, c Caller, name string, req StartUpload) (Started, error) {
	if err := s.authorizePush(ctx, c, name); err != nil {
		return Started{}, err
	}
	if req.Mount != "" {
		d, err := oci.ParseDigest(req.Mount)
		if err != nil {
			return Started{}, err
		}
		if ok, err := s.mount(ctx, c, name, d, req.From); err != nil || ok {
			return Started{Blob: d}, err
		}
	}
	if req.Digest != "" {
		d, err := oci.ParseDigest(req.Digest)
		if err != nil {
			return Started{}, err
		}
		if err := s.precheck(ctx, c, name, d, req.Body.Length); err != nil {
			return Started{}, err
		}
		info, err := s.uploads.Put(ctx, req.Body.Body, req.Body.Length, d, -1)
		if err != nil {
			return Started{}, err
		}
		return Started{Blob: d}, s.recordBlob(ctx, c, name, info)
	}
	alg := digest.Algorithm(req.Algorithm)
	if alg != "" && !oci.SupportedAlgorithm(alg) {
		return Started{}, apperr.E(apperr.Invalid, apperr.Digest, "unsupported digest algorithm %q", alg)
	}
	sess, err := s.uploads.Start(ctx, uploadKind, name, c.UserID, alg, nil)
	return Started{Upload: Upload{ID: sess.ID}}, err
}

// precheck refuses a blob of a known size that cannot fit the quotas of
// the repository it is pushed to, before a byte of it is read.
func (s *Service) precheck(ctx context.Context, c Caller, name string, d digest.Digest, size int64) error {
	if size < 0 {
		return nil
	}
	return s.view(ctx, func(st Store) error {
		t, err := s.push(ctx, st, c, name, oci.ActionPush, false)
		if err != nil {
			return err
		}
		if t.repo.Name == "" {
			t.repo.Name = name
		}
		return quota.Precheck(ctx, st, owners(t, c), d.String(), size)
	})
}

// mount links d from repository from into name when the caller may read
// from and d is there (spec end-11: 201). Anything else is not an error:
// the client gets an upload session instead (202), whether from is
// missing, private or lacks the blob, so a mount reveals nothing.
func (s *Service) mount(ctx context.Context, c Caller, name string, d digest.Digest, from string) (bool, error) {
	if from == "" || from == name {
		return false, nil
	}
	var size int64
	err := s.view(ctx, func(st Store) error {
		src, err := s.pull(ctx, st, c, from)
		if err != nil {
			return err
		}
		rec, err := st.GetRepositoryBlob(ctx, src.ID, d.String())
		size = rec.Size
		return err
	})
	if refusal(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, s.recordBlob(ctx, c, name, blobInfo(d, size))
}

// session checks the session belongs to this repository: an id of
// another repository's session is unknown here.
func session(name string) func(*upload.Session) (int64, error) {
	return func(sess *upload.Session) (int64, error) {
		if sess.Target != name {
			return 0, upload.Unknown()
		}
		return -1, nil
	}
}

// AppendUpload is a PATCH: a chunk (Start set) or a streamed body (end-5).
func (s *Service) AppendUpload(ctx context.Context, c Caller, name, id string, ch Chunk) (Upload, error) {
	if err := s.authorizePush(ctx, c, name); err != nil {
		return Upload{}, err
	}
	sess, err := s.uploads.Append(ctx, upload.Append{ID: id, Kind: uploadKind, Check: session(name),
		At: ch.Start, Body: ch.Body, Length: ch.Length})
	return Upload{ID: id, Offset: sess.Offset}, err
}

// FinishUpload is the closing PUT (end-6), optionally with a last chunk.
func (s *Service) FinishUpload(ctx context.Context, c Caller, name, id, d string, ch Chunk) (digest.Digest, error) {
	if err := s.authorizePush(ctx, c, name); err != nil {
		return "", err
	}
	dg, err := oci.ParseDigest(d)
	if err != nil {
		return "", err
	}
	check := session(name)
	_, _, err = s.uploads.Commit(ctx, upload.Commit{ID: id, Kind: uploadKind,
		Check:  func(sess *upload.Session) error { _, err := check(sess); return err },
		Digest: dg, Size: -1, At: ch.Start, Body: ch.Body, Length: ch.Length,
		Record: func(ctx context.Context, tx meta.Store, info blob.Info) error {
			return s.linkBlob(ctx, tx.(Store), c, name, info)
		}})
	return dg, err
}

// UploadStatus is GET on a session (end-13).
func (s *Service) UploadStatus(ctx context.Context, c Caller, name, id string) (Upload, error) {
	if err := s.authorizePush(ctx, c, name); err != nil {
		return Upload{}, err
	}
	sess, err := s.uploads.Get(ctx, id, uploadKind)
	if err == nil && sess.Target != name {
		err = upload.Unknown()
	}
	return Upload{ID: id, Offset: sess.Offset}, err
}

// CancelUpload is DELETE on a session (end-14).
func (s *Service) CancelUpload(ctx context.Context, c Caller, name, id string) error {
	if _, err := s.UploadStatus(ctx, c, name, id); err != nil {
		return err
	}
	return s.uploads.Abort(ctx, id, uploadKind)
}
