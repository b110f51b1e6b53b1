package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
)

const idBytes = 16

// state is a session as the caller records it. Its bytes are Parts
// (each PartSize long) followed by the tail object's; Hash covers all of
// them. A request that continues the session reads the tail back into
// its part buffer.
type state struct {
	Algorithm digest.Algorithm `json:"alg"`
	Offset    int64            `json:"offset"`
	Hash      []byte           `json:"hash"`
	PartSize  int64            `json:"partSize"`
	// Expect is the announced digest; Key is then its blob key.
	Expect digest.Digest `json:"expect,omitempty"`
	// Key and Upload name the multipart upload, once a part was sent.
	Key    string   `json:"key,omitempty"`
	Upload string   `json:"upload,omitempty"`
	Parts  []string `json:"parts,omitempty"` // ETags of parts 1..n
	// Tail holds the bytes after the parts (possibly none: every saved
	// session has a tail object, which is how a session is known to
	// exist).
	Tail string `json:"tail"`
	// Stale are tail objects this state superseded; the next request
	// removes them, once this state is known to be the recorded one.
	Stale []string `json:"stale,omitempty"`
}

func (st state) tailSize() int64 { return st.Offset - int64(len(st.Parts))*st.PartSize }

func newID() string {
	b := make([]byte, idBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func isID(id string) bool {
	return len(id) == 2*idBytes && strings.Trim(id, "0123456789abcdef") == ""
}

func unknown() error { return apperr.New(apperr.NotFound, "upload unknown") }

// NewUpload starts a session hashing with alg (sha256 when empty). It
// stores nothing until bytes arrive or it is closed.
func (s *Store) NewUpload(ctx context.Context, alg digest.Algorithm) (blob.Writer, error) {
	if alg == "" {
		alg = digest.SHA256
	}
	if !supported(alg) {
		return nil, apperr.New(apperr.Invalid, "unsupported digest algorithm %q", alg)
	}
	st := state{Algorithm: alg, PartSize: s.partSize}
	return s.newWriter(ctx, newID(), st, alg.Hash(), s.buffer()), nil
}

// decodeState checks a recorded state before anything is built from it.
func decodeState(b []byte) (state, hash.Hash, error) {
	var st state
	if len(b) == 0 {
		return st, nil, unknown()
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, nil, apperr.Wrap(apperr.Internal, err, "corrupt upload state")
	}
	tail := st.tailSize()
	if !supported(st.Algorithm) || st.PartSize < MinPartSize || tail < 0 || tail >= st.PartSize || st.Tail == "" ||
		(st.Expect != "" && st.Expect.Validate() != nil) {
		return st, nil, apperr.New(apperr.Internal, "corrupt upload state")
	}
	h := st.Algorithm.Hash()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.Hash); err != nil {
		return st, nil, apperr.Wrap(apperr.Internal, err, "corrupt upload hash state")
	}
	return st, h, nil
}

// ResumeUpload continues a session from a recorded state: its tail is read
// back into the part buffer, and the tails that state superseded go.
func (s *Store) ResumeUpload(ctx context.Context, id string, saved []byte) (blob.Writer, error) {
	if !isID(id) {
		return nil, unknown()
	}
	st, h, err := decodeState(saved)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(st.Tail, s.uploadPrefix(id)) {
		return nil, apperr.New(apperr.Internal, "corrupt upload state")
	}
	buf := s.buffer()
	if st.PartSize != s.partSize {
		// Another replica, configured with another part size, started it.
		b := make([]byte, 0, st.PartSize)
		buf = &b
	}
	if err := s.readTail(ctx, st, buf); err != nil {
		s.release(buf)
		return nil, err
	}
	s.removeKeys(ctx, st.Stale)
	st.Stale = nil
	return s.newWriter(ctx, id, st, h, buf), nil
}

// readTail reads the tail object into buf: it must hold exactly what the
// state says, or the session cannot be continued.
func (s *Store) readTail(ctx context.Context, st state, buf *[]byte) error {
	body, _, _, err := s.core.GetObject(ctx, s.bucket, st.Tail, minio.GetObjectOptions{})
	if err != nil {
		err = mapErr(err, "read upload")
		if apperr.Is(err, apperr.NotFound) {
			return unknown()
		}
		return err
	}
	defer body.Close()
	want := st.tailSize()
	n, err := io.ReadFull(body, (*buf)[:want])
	if err != nil && err != io.ErrUnexpectedEOF {
		return mapErr(err, "read upload")
	}
	if extra, _ := body.Read(make([]byte, 1)); int64(n) != want || extra > 0 {
		return apperr.New(apperr.Internal, "upload session out of step: its tail has not the %d bytes recorded", want)
	}
	*buf = (*buf)[:want]
	return nil
}

// removeKeys deletes objects, ignoring failures: whatever stays is
// removed with the session, or purged.
func (s *Store) removeKeys(ctx context.Context, keys []string) {
	for _, k := range keys {
		_ = s.client.RemoveObject(ctx, s.bucket, k, minio.RemoveObjectOptions{})
	}
}

// removeSession removes every object under a session's prefix and aborts
// its multipart upload (if any), reporting whether anything was there.
func (s *Store) removeSession(ctx context.Context, id string, st *state) (bool, error) {
	found := false
	if st != nil && st.Upload != "" {
		err := s.core.AbortMultipartUpload(ctx, s.bucket, st.Key, st.Upload)
		switch err = mapErr(err, "abort upload"); {
		case err == nil:
			found = true
		case !apperr.Is(err, apperr.NotFound):
			return found, err
		}
	}
	n, err := s.removePrefix(ctx, s.uploadPrefix(id))
	return found || n > 0, err
}

// removePrefix deletes every object under prefix and returns how many.
func (s *Store) removePrefix(ctx context.Context, prefix string) (int, error) {
	n := 0
	objs := s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true})
	for obj := range objs {
		if obj.Err != nil {
			return n, mapErr(obj.Err, "list %s", prefix)
		}
		if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return n, mapErr(err, "remove %s", obj.Key)
		}
		n++
	}
	return n, nil
}

// AbortUpload discards a session: its multipart upload and its objects.
func (s *Store) AbortUpload(ctx context.Context, id string, saved []byte) error {
	if !isID(id) {
		return unknown()
	}
	var st *state
	if decoded, _, err := decodeState(saved); err == nil {
		st = &decoded
	}
	found, err := s.removeSession(ctx, id, st)
	if err != nil {
		return err
	}
	if !found {
		return unknown()
	}
	return nil
}

// PurgeUploads removes what sessions no one continued for olderThan left
// behind: objects under uploads/ grouped by session (a session's age is
// its newest object's), and multipart uploads whose newest part (or
// start, without parts) is older. It returns how many sessions and
// multipart uploads it removed. internal/upload's sweep calls it for
// sessions no metadata row knows of (a crash between the two writes).
func (s *Store) PurgeUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	n, err := s.purgeSessions(ctx, cutoff)
	if err != nil {
		return n, err
	}
	m, err := s.purgeMultipart(ctx, cutoff)
	return n + m, err
}

func (s *Store) purgeSessions(ctx context.Context, cutoff time.Time) (int, error) {
	base := s.prefix + "uploads/"
	newest := map[string]time.Time{}
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: base, Recursive: true}) {
		if obj.Err != nil {
			return 0, mapErr(obj.Err, "list uploads")
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(obj.Key, base), "/")
		if t := obj.LastModified; t.After(newest[id]) {
			newest[id] = t
		}
	}
	n := 0
	for id, last := range newest {
		if last.After(cutoff) {
			continue
		}
		if _, err := s.removePrefix(ctx, base+id+"/"); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *Store) purgeMultipart(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	for mpu := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if mpu.Err != nil {
			return n, mapErr(mpu.Err, "list multipart uploads")
		}
		if mpu.Initiated.After(cutoff) {
			continue
		}
		last, err := s.lastPart(ctx, mpu.Key, mpu.UploadID)
		if err != nil {
			return n, err
		}
		if last.After(cutoff) {
			continue
		}
		err = mapErr(s.core.AbortMultipartUpload(ctx, s.bucket, mpu.Key, mpu.UploadID), "abort upload")
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

// lastPart returns when a multipart upload last received a part.
func (s *Store) lastPart(ctx context.Context, key, upload string) (time.Time, error) {
	var last time.Time
	marker := 0
	for {
		res, err := s.core.ListObjectParts(ctx, s.bucket, key, upload, marker, 1000)
		if err != nil {
			err = mapErr(err, "list parts")
			if apperr.Is(err, apperr.NotFound) {
				return last, nil
			}
			return last, err
		}
		for _, p := range res.ObjectParts {
			if p.LastModified.After(last) {
				last = p.LastModified
			}
		}
		if !res.IsTruncated {
			return last, nil
		}
		marker = res.NextPartNumberMarker
	}
}

// putSmall stores bytes as one object.
func (s *Store) putSmall(ctx context.Context, key string, b []byte, sha256Hex string) error {
	_, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(b), int64(len(b)), "", sha256Hex,
		minio.PutObjectOptions{DisableContentSha256: sha256Hex == ""})
	return mapErr(err, "write %s", key)
}

// tailKey names a new tail object: its offset, and a random part so that
// a request whose state was never recorded can never overwrite a tail a
// recorded state names.
func (s *Store) tailKey(id string, offset int64) string {
	return fmt.Sprintf("%stail-%d-%s", s.uploadPrefix(id), offset, newID()[:8])
}
