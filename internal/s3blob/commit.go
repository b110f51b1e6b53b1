package s3blob

import (
	"context"
	"errors"
	"io"
	"sort"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
)

// Commit verifies the session and publishes it under expected. The hash
// kept while writing decides before anything becomes visible: a blob in
// one buffer is one PUT; a multipart upload is completed at the blob's
// key when its digest was announced, else at the session's data key and
// copied inside S3. A malformed digest keeps the session (a caller's
// typo); any other failure removes it.
func (w *writer) Commit(ctx context.Context, expected digest.Digest, size int64) (blob.Info, error) {
	if w.done {
		return blob.Info{}, errDone
	}
	if err := checkDigest(expected); err != nil {
		return blob.Info{}, errors.Join(err, w.Close())
	}
	w.done = true
	ctx = context.WithoutCancel(ctx)
	info, err := w.commit(ctx, expected, size)
	w.finish()
	// Whatever of the session this fails to remove (S3 being down) is
	// purged later; a published blob stays published.
	_, _ = w.s.removeSession(ctx, w.id, &w.cur)
	return info, err
}

func (w *writer) commit(ctx context.Context, expected digest.Digest, size int64) (blob.Info, error) {
	err := w.err
	if err == nil {
		err = w.wait()
	}
	if err != nil {
		return blob.Info{}, err
	}
	if size >= 0 && w.n != size {
		return blob.Info{}, apperr.New(apperr.Invalid, "size mismatch: got %d bytes, expected %d", w.n, size)
	}
	if w.cur.Expect != "" && expected != w.cur.Expect {
		return blob.Info{}, apperr.New(apperr.Invalid, "digest mismatch: the upload announced %s", w.cur.Expect)
	}
	if expected.Algorithm() == w.cur.Algorithm {
		if got := digest.NewDigest(w.cur.Algorithm, w.h); got != expected {
			return blob.Info{}, apperr.New(apperr.Invalid, "digest mismatch: content is %s", got)
		}
	}
	if len(w.cur.Parts) == 0 {
		return w.publishSmall(ctx, expected)
	}
	return w.publishMultipart(ctx, expected)
}

// publishSmall stores a blob that fits one part buffer with one PUT;
// S3 checks it against its sha256 when that is its digest.
func (w *writer) publishSmall(ctx context.Context, d digest.Digest) (blob.Info, error) {
	b := *w.buf
	if d.Algorithm() != w.cur.Algorithm {
		if got := d.Algorithm().FromBytes(b); got != d {
			return blob.Info{}, apperr.New(apperr.Invalid, "digest mismatch: content is %s", got)
		}
	}
	if info, err := w.s.Stat(ctx, d); err == nil {
		return info, nil
	}
	sha := ""
	if d.Algorithm() == digest.SHA256 {
		sha = d.Encoded()
	}
	if err := w.s.putSmall(ctx, w.s.blobKey(d), b, sha); err != nil {
		return blob.Info{}, err
	}
	return w.published(d), nil
}

// published describes the blob just stored. It is not read back: some
// S3 servers (versitygw's posix backend) replace an object by removing
// it first, so a concurrent commit of the same digest could make it look
// missing for a moment.
func (w *writer) published(d digest.Digest) blob.Info {
	return blob.Info{Digest: d, Size: w.n, ModTime: time.Now()}
}

// publishMultipart sends the last part and completes the upload. A blob
// already stored is kept as it is (the upload is aborted instead).
func (w *writer) publishMultipart(ctx context.Context, d digest.Digest) (blob.Info, error) {
	if len(*w.buf) > 0 {
		if err := w.send(); err != nil {
			return blob.Info{}, err
		}
		if err := w.wait(); err != nil {
			return blob.Info{}, err
		}
	}
	final, sameAlg := w.s.blobKey(d), d.Algorithm() == w.cur.Algorithm
	if info, err := w.s.Stat(ctx, d); sameAlg && err == nil && info.Size == w.n {
		return info, nil
	}
	parts := make([]minio.CompletePart, len(w.cur.Parts))
	for i, etag := range w.cur.Parts {
		parts[i] = minio.CompletePart{PartNumber: i + 1, ETag: etag}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	_, err := w.s.core.CompleteMultipartUpload(ctx, w.s.bucket, w.cur.Key, w.cur.Upload, parts, minio.PutObjectOptions{})
	if err != nil {
		return blob.Info{}, mapErr(err, "complete upload")
	}
	w.cur.Upload = "" // completed: nothing to abort
	if w.cur.Key == final {
		return w.published(d), nil
	}
	defer w.s.removeKeys(ctx, []string{w.cur.Key})
	if !sameAlg {
		if err := w.verifyObject(ctx, w.cur.Key, d); err != nil {
			return blob.Info{}, err
		}
		if info, err := w.s.Stat(ctx, d); err == nil && info.Size == w.n {
			return info, nil
		}
	}
	_, err = w.s.client.ComposeObject(ctx, minio.CopyDestOptions{Bucket: w.s.bucket, Object: final},
		minio.CopySrcOptions{Bucket: w.s.bucket, Object: w.cur.Key})
	if err != nil {
		return blob.Info{}, mapErr(err, "publish %s", d)
	}
	return w.published(d), nil
}

// verifyObject hashes a stored object in d's algorithm: for a commit in
// another algorithm than the session hashed with.
func (w *writer) verifyObject(ctx context.Context, key string, d digest.Digest) error {
	body, _, _, err := w.s.core.GetObject(ctx, w.s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return mapErr(err, "read %s", key)
	}
	defer body.Close()
	h := d.Algorithm().Hash()
	buf := w.s.buffer()
	defer w.s.release(buf)
	if _, err := io.CopyBuffer(h, body, (*buf)[:cap(*buf)]); err != nil {
		return mapErr(err, "read %s", key)
	}
	if got := digest.NewDigest(d.Algorithm(), h); got != d {
		return apperr.New(apperr.Invalid, "digest mismatch: content is %s", got)
	}
	return nil
}
