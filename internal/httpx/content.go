package httpx

import (
	"bytes"
	"io"
	"net/http"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
)

// ServeContent serves content as http.ServeContent does (ranges,
// conditional requests, sendfile from an *os.File), except that a Range
// it cannot satisfy is returned as an error, apperr.Invalid about
// apperr.Range, for the protocol's error writer to answer 416 in its own
// format: http.ServeContent writes a text/plain body. The Content-Range
// header it sets for that answer ("bytes */<size>", RFC 9110 §15.5.17)
// stays.
func ServeContent(w http.ResponseWriter, r *http.Request, modtime time.Time, content io.ReadSeeker) error {
	rw := &rangeRefusal{ResponseWriter: w}
	http.ServeContent(rw, r, "", modtime, content)
	if !rw.refused {
		return nil
	}
	msg := string(bytes.TrimSpace(rw.msg))
	if msg == "" {
		msg = "range not satisfiable"
	}
	return apperr.E(apperr.Invalid, apperr.Range, "%s", msg)
}

// rangeRefusal holds back http.ServeContent's 416 and its text.
type rangeRefusal struct {
	http.ResponseWriter
	refused bool
	msg     []byte
}

func (w *rangeRefusal) WriteHeader(code int) {
	if code == http.StatusRequestedRangeNotSatisfiable {
		w.refused = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *rangeRefusal) Write(p []byte) (int, error) {
	if w.refused {
		if len(w.msg) < 512 {
			w.msg = append(w.msg, p[:min(len(p), 512-len(w.msg))]...)
		}
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps the underlying writer's sendfile path, which io.Copy in
// http.ServeContent would otherwise lose behind this wrapper.
func (w *rangeRefusal) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok && !w.refused {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w}, src)
}

// writerOnly hides ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// Unwrap lets http.ResponseController reach the connection.
func (w *rangeRefusal) Unwrap() http.ResponseWriter { return w.ResponseWriter }
