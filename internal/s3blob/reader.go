package s3blob

import (
	"context"
	"errors"
	"io"

	"github.com/minio/minio-go/v7"

	"github.com/silo-hpc/silo/internal/apperr"
)

// reader streams a blob from its offset to the end in one GET, opened on
// the first Read after a Seek: http.ServeContent seeks to learn the size
// (answered from the Stat) and then reads one range, so a download is one
// request whose body flows straight to the client.
type reader struct {
	// ctx is the request that opened the blob (io.Reader has none).
	ctx  context.Context
	s    *Store
	key  string
	size int64
	off  int64
	body io.ReadCloser // the open GET, positioned at off; nil when none
}

func (r *reader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.body == nil {
		opts := minio.GetObjectOptions{}
		if r.off > 0 {
			if err := opts.SetRange(r.off, 0); err != nil {
				return 0, err
			}
		}
		body, _, _, err := r.s.core.GetObject(r.ctx, r.s.bucket, r.key, opts)
		if err != nil {
			return 0, mapErr(err, "read %s", r.key)
		}
		r.body = body
	}
	if max := r.size - r.off; int64(len(p)) > max {
		p = p[:max]
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
	if errors.Is(err, io.EOF) && r.off < r.size {
		// The object is shorter than its Stat said: deleted and written
		// again meanwhile, or cut off.
		err = apperr.New(apperr.Unavailable, "blob %s ended after %d of %d bytes", r.key, r.off, r.size)
	} else if errors.Is(err, io.EOF) {
		err = nil
		if n == 0 {
			err = io.EOF
		}
	}
	return n, err
}

func (r *reader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return r.off, errors.New("s3blob: invalid whence")
	}
	if abs < 0 {
		return r.off, errors.New("s3blob: negative position")
	}
	if abs != r.off && r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.off = abs
	return abs, nil
}

func (r *reader) Close() error {
	if r.body != nil {
		err := r.body.Close()
		r.body = nil
		return err
	}
	return nil
}
