package s3blob

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// bodyWaiter returns from RoundTrip only once the transport is done with
// the request's body. net/http may go on writing a body after the
// response arrived (a server that answers SlowDown or 503 before reading
// a part) and closes the body when it stops, as http.RoundTripper's
// contract says; minio-go seeks that same body back to retry as soon as
// RoundTrip returns. Without the wait, two goroutines would read one
// reader at once (a retried part could be sent short), and a part buffer
// could go back to the pool while a connection still reads it.
type bodyWaiter struct{ next http.RoundTripper }

// errorBodyLimit bounds the early answer read into memory: S3 error
// documents are a few hundred bytes (minio-go reads up to 5 MiB).
const errorBodyLimit = 5 << 20

func (t bodyWaiter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return t.next.RoundTrip(req)
	}
	body := &closeSignal{ReadCloser: req.Body, closed: make(chan struct{})}
	out := req.WithContext(req.Context()) // a shallow copy: RoundTrip must not change req
	out.Body = body
	resp, err := t.next.RoundTrip(out)
	if err == nil && resp.StatusCode >= http.StatusMultipleChoices {
		// Read the answer and close it first: a connection whose request
		// is still being written is then closed, which ends the write.
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		if rerr != nil {
			err, resp = rerr, nil
		}
	}
	<-body.closed
	return resp, err
}

// closeSignal closes its channel when the transport closes the body.
type closeSignal struct {
	io.ReadCloser
	once   sync.Once
	closed chan struct{}
}

func (c *closeSignal) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(func() { close(c.closed) })
	return err
}
