package server

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/silo-hpc/silo/internal/httpx"
	"github.com/silo-hpc/silo/internal/libraryapi"
)

// metrics are the per-route request counters, latencies and bytes moved.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// received and sent count request and response bodies' bytes: a
	// registry's traffic is its pushes and pulls (downloads served with
	// sendfile included).
	received, sent *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "silo_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "silo_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "silo_http_requests_in_flight", Help: "HTTP requests being served.",
		}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "silo_http_request_body_bytes_total", Help: "Bytes of request bodies read, by route (pushes).",
		}, []string{"route", "method"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "silo_http_response_body_bytes_total", Help: "Bytes of response bodies written, by route (pulls).",
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.received, m.sent)
	return m
}

// countingBody counts what a handler reads of a request body (atomically:
// a handler may read it from another goroutine until it returns).
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// recorder captures the status and size a handler wrote. It keeps
// ReaderFrom (sendfile) and Flusher reachable through Unwrap.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the connection's zero-copy path (sendfile) for blob
// downloads served by http.ServeContent.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := io.Copy(r.ResponseWriter, src)
	r.bytes += n
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// validRequestID accepts a caller's X-Request-ID of 1 to 64 letters,
// digits and . _ - (anything else could forge log lines).
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observe wraps the whole handler: request id, request-scoped logger, panic
// recovery, one structured log line and metrics per request. The route
// label is the mux pattern, so metrics never carry image names.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		log := s.Log.With("request_id", id)
		ctx := httpx.WithLogger(httpx.WithRequestID(r.Context(), id), log)
		r = r.WithContext(ctx)
		rec := &recorder{ResponseWriter: w}
		body := &countingBody{ReadCloser: r.Body}
		if r.Body != nil {
			r.Body = body
		}
		path := logPath(r.URL.Path)
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				log.Error("panic serving request", "panic", p, "path", path)
				if rec.status == 0 {
					http.Error(rec, "internal server error", http.StatusInternalServerError)
					p = nil
				}
			}
			if p != nil {
				// The response has started (or the handler aborted): it cannot
				// become an error any more. Abort the connection after the
				// request is logged and counted, so the client sees a
				// truncated response rather than a complete one.
				defer panic(http.ErrAbortHandler)
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			code := rec.status
			if code == 0 {
				code = http.StatusOK
			}
			elapsed := time.Since(start)
			s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(code)).Inc()
			s.metrics.duration.WithLabelValues(route, r.Method).Observe(elapsed.Seconds())
			if n := body.n.Load(); n > 0 {
				s.metrics.received.WithLabelValues(route, r.Method).Add(float64(n))
			}
			if rec.bytes > 0 {
				s.metrics.sent.WithLabelValues(route, r.Method).Add(float64(rec.bytes))
			}
			// Only the path is logged: queries and headers may carry secrets.
			log.LogAttrs(ctx, levelFor(code), "request", slog.String("method", r.Method), slog.String("path", path),
				slog.Int("status", code), slog.Int64("bytes", rec.bytes), slog.Duration("duration", elapsed),
				slog.String("remote", r.RemoteAddr))
		}()
		next.ServeHTTP(rec, r)
	})
}

// capabilityPrefix starts the Library API's upload URLs: the id after it
// is the only credential such a request carries.
const capabilityPrefix = libraryapi.UploadPath

// downloadPrefix starts sregistry's image URLs (also under /<entity>):
// /api/download/<collection>/<digest>/<mac>, the MAC their credential.
const downloadPrefix = "/api/download/"

// logPath is the path as logged, with a capability upload id or download
// MAC hidden.
func logPath(path string) string {
	if i := strings.Index(path, downloadPrefix); i >= 0 {
		if parts := strings.SplitN(path[i+len(downloadPrefix):], "/", 3); len(parts) == 3 {
			return path[:i] + downloadPrefix + parts[0] + "/" + parts[1] + "/REDACTED"
		}
	}
	rest, ok := strings.CutPrefix(path, capabilityPrefix)
	if !ok {
		return path
	}
	_, tail, found := strings.Cut(rest, "/")
	if found {
		tail = "/" + tail
	}
	return capabilityPrefix + "REDACTED" + tail
}

func levelFor(code int) slog.Level {
	if code >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}
