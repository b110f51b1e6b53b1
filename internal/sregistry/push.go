package sregistry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sifinspect"
	"github.com/silo-hpc/silo/internal/upload"
)

// A push is two requests (SR §3.2): POST /api/upload/chunked_upload
// checks the push and answers a "cid", then POST /upload sends the file
// with that cid. Their signatures cover neither the body nor a nonce, and
// the same push twice in an hour sends the same header twice, so a replay
// cache cannot tell a replay from real use. Instead the first step issues
// a one-time permit, an upload session (internal/upload) whose number is
// the cid: the upload must be signed by the permit's user for its names,
// and consumes it. An upload without a fresh permit is refused, and a
// permit carries one file. docs/sregistry.md says what this cannot stop
// without TLS.

// kindPermit is the upload-session kind of push permits.
const kindPermit = "sregistry-push"

// permitTTL is how long a permit waits for its upload: the client sends
// it right after the first step.
const permitTTL = 15 * time.Minute

// permit is a push permit's state.
type permit struct {
	Entity     string    `json:"entity"`
	Collection string    `json:"collection"`
	Container  string    `json:"container"`
	Tag        string    `json:"tag"`
	Issued     time.Time `json:"issued"`
}

func (p permit) path() string { return p.Entity + "/" + p.Collection + "/" + p.Container }

// PushRequest is POST /api/upload/chunked_upload: Name.Entity from the
// path, the rest from the JSON body.
type PushRequest struct {
	Name          Name
	Authorization string
}

// StartPush answers the first push step: every push rule (the bridge's:
// owners only, auto-created collections, the frozen rule) is checked, and
// nothing is written but the permit, whose number is returned as the cid.
func (s *Service) StartPush(ctx context.Context, req PushRequest) (int64, error) {
	raw := req.Name
	n, err := normalize(req.Name)
	if err == nil && n.Container == "" {
		err = apperr.New(apperr.Invalid, "the push names no container")
	}
	if err == nil {
		err = bridge.CheckTag(n.Tag)
	}
	if err != nil {
		return 0, err
	}
	p, err := s.principal(ctx, req.Authorization, kindPush, signed{raw.Collection, raw.Container, n.Tag})
	if err == nil {
		err = bridge.RequireUser(p)
	}
	if err != nil {
		return 0, err
	}
	ent, err := s.entityOf(ctx, p, n, true)
	if err != nil {
		return 0, err
	}
	pm := permit{Entity: ent, Collection: n.Collection, Container: n.Container, Tag: n.Tag, Issued: s.cfg.Now()}
	if err := s.checkPush(ctx, p, pm); err != nil {
		return 0, err
	}
	cid := newCID()
	// The session ends with the permit's time, so the sweep removes an
	// abandoned permit then rather than after the uploads' idle timeout.
	_, err = s.uploads.Start(ctx, kindPermit, strconv.FormatInt(cid, 10), p.UserID, digest.SHA256, pm, upload.Within(permitTTL))
	return cid, err
}

// checkPush decides a push without writing anything.
func (s *Service) checkPush(ctx context.Context, p auth.Principal, pm permit) error {
	return meta.View(ctx, s.meta, func(st Store) error {
		ref, err := s.bridge.ContainerForPush(ctx, st, p, pm.path(), false)
		if err != nil || ref.Container.ID == "" {
			return err
		}
		return s.bridge.FrozenTag(ctx, st, ref, pm.Tag)
	})
}

// newCID returns a random permit number that JSON numbers carry exactly
// (53 bits).
func newCID() int64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return int64(binary.BigEndian.Uint64(b[:])&(1<<53-1)) | 1
}

// UploadRequest is the multipart POST /upload (SR §3.2 step 2).
type UploadRequest struct {
	// Authorization is the header, or the SREGISTRY_EVENT field when the
	// header is missing.
	Authorization string
	// Permit is the "collection" field: the cid the first step answered.
	Permit    string
	Name, Tag string
	// File is the file1 part, read once, as it arrives.
	File io.Reader
}

var errNoPermit = apperr.New(apperr.Denied, "no push permit with this number: push again (the permit is good for one upload within 15 minutes)")

// Upload answers the second push step: the file streams into the permit's
// upload session while it is hashed, is verified and published, is
// inspected (the library stores SIF images only), and becomes the image
// the permit's tag names, in one transaction that applies the push rules
// again. Anything refused leaves no metadata; a failed stream leaves no
// bytes.
func (s *Service) Upload(ctx context.Context, req UploadRequest) error {
	p, sess, pm, err := s.permitFor(ctx, req)
	if err != nil {
		return err
	}
	info, err := s.receive(ctx, sess, req.File)
	if err != nil {
		return err
	}
	sif, err := s.bridge.Inspect(ctx, info.Digest)
	if err != nil {
		return err
	}
	return meta.Tx(ctx, s.meta, func(tx Store) error {
		ref, err := s.bridge.ContainerForPush(ctx, tx, p, pm.path(), true)
		if err != nil {
			return err
		}
		_, err = s.bridge.AddImage(ctx, tx, p, ref, info.Digest, info.Size, sif, "", []string{pm.Tag}, "")
		return err
	})
}

// permitFor finds the request's permit and checks the upload is its
// user's, for its names, in time.
func (s *Service) permitFor(ctx context.Context, req UploadRequest) (auth.Principal, upload.Session, permit, error) {
	var pm permit
	var sess upload.Session
	if _, err := strconv.ParseInt(req.Permit, 10, 64); err != nil {
		return auth.Principal{}, sess, pm, apperr.New(apperr.Invalid, "invalid collection %q: want the number the push step answered", req.Permit)
	}
	sessions, err := s.uploads.List(ctx, kindPermit, req.Permit)
	if err != nil {
		return auth.Principal{}, sess, pm, err
	}
	if len(sessions) != 1 {
		return auth.Principal{}, sess, pm, errNoPermit
	}
	sess = sessions[0]
	if err := json.Unmarshal(sess.Data, &pm); err != nil {
		return auth.Principal{}, sess, pm, apperr.Wrap(apperr.Internal, err, "corrupt push permit")
	}
	if s.cfg.Now().Sub(pm.Issued) > permitTTL {
		return auth.Principal{}, sess, pm, errNoPermit
	}
	p, err := s.principal(ctx, req.Authorization, kindUpload, signed{pm.Collection, req.Name, req.Tag})
	if err == nil {
		err = bridge.RequireUser(p)
	}
	switch {
	case err != nil:
		return p, sess, pm, err
	case p.UserID != sess.UserID:
		return p, sess, pm, errNoPermit
	case req.Name != pm.Container || req.Tag != pm.Tag:
		// The permit's own user sent it: the push is over.
		return p, sess, pm, s.endPermit(ctx, sess, apperr.New(apperr.Invalid,
			"the upload is for %s:%s, its permit for %s:%s", req.Name, req.Tag, pm.Container, pm.Tag))
	}
	return p, sess, pm, nil
}

// receive streams the file into the permit's session, hashing it on the
// way, and publishes it. The first bytes are checked for the SIF magic
// before any is stored. A failure ends the permit and drops its bytes.
func (s *Service) receive(ctx context.Context, sess upload.Session, file io.Reader) (blob.Info, error) {
	head := make([]byte, sifinspect.HeaderSize)
	n, err := io.ReadFull(file, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return blob.Info{}, s.endPermit(ctx, sess, apperr.Wrap(apperr.Invalid, err, "reading the upload failed"))
	}
	if err := sifinspect.CheckMagic(head[:n]); err != nil {
		return blob.Info{}, s.endPermit(ctx, sess, apperr.Wrap(apperr.Invalid, err, "the image is refused: %v", err))
	}
	h := sha256.New()
	body := io.TeeReader(io.MultiReader(bytes.NewReader(head), file), h)
	saved, err := s.uploads.Append(ctx, upload.Append{ID: sess.ID, Kind: kindPermit, At: 0, Body: body, Length: -1,
		Check: func(cur *upload.Session) (int64, error) {
			if cur.Offset > 0 {
				return 0, apperr.New(apperr.Conflict, "this push permit was used already: push again")
			}
			return -1, nil
		}})
	if err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Internal) {
			err = s.endPermit(ctx, sess, err)
		}
		return blob.Info{}, err
	}
	d := digest.NewDigest(digest.SHA256, h)
	info, _, err := s.uploads.Commit(ctx, upload.Commit{ID: sess.ID, Kind: kindPermit, Digest: d, Size: saved.Offset, At: -1, Length: -1})
	if err != nil {
		return blob.Info{}, s.endPermit(ctx, sess, err)
	}
	return info, nil
}

// endPermit drops a permit after a failed upload, and returns err.
func (s *Service) endPermit(ctx context.Context, sess upload.Session, err error) error {
	if aerr := s.uploads.Abort(context.WithoutCancel(ctx), sess.ID, kindPermit); aerr != nil && !apperr.Is(aerr, apperr.NotFound) {
		logctx.From(ctx).Warn("ending a failed sregistry upload", "err", aerr)
	}
	return err
}
