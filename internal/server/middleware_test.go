package server

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/silo-hpc/silo/internal/libraryapi"
)

// The bytes of request and response bodies are counted by route, a file
// served with http.ServeContent (sendfile) included.
func TestObserveBytes(t *testing.T) {
	s := &Server{Services: &Services{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, metrics: newMetrics(prometheus.NewRegistry())}
	f, err := os.CreateTemp(t.TempDir(), "blob")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(bytes.Repeat([]byte("b"), 70_000))
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /up/{id}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d", n)
	})
	mux.HandleFunc("GET /blob", func(w http.ResponseWriter, r *http.Request) { http.ServeContent(w, r, "", time.Time{}, f) })
	ts := httptest.NewServer(s.observe(mux))
	for range 2 {
		req, _ := http.NewRequest("PUT", ts.URL+"/up/1", bytes.NewReader(make([]byte, 12_345)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	res, err := http.Get(ts.URL + "/blob")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := io.Copy(io.Discard, res.Body); n != 70_000 {
		t.Fatalf("downloaded %d bytes", n)
	}
	res.Body.Close()
	// The counts are taken when a handler returns, which may be after its
	// client has read the whole answer: Close waits for the handlers.
	ts.Close()
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"received by PUT", testutil.ToFloat64(s.metrics.received.WithLabelValues("PUT /up/{id}", "PUT")), 2 * 12_345},
		{"sent by PUT", testutil.ToFloat64(s.metrics.sent.WithLabelValues("PUT /up/{id}", "PUT")), 2 * 5},
		{"sent by GET", testutil.ToFloat64(s.metrics.sent.WithLabelValues("GET /blob", "GET")), 70_000},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestObserve(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{Services: &Services{Log: slog.New(slog.NewJSONHandler(&logs, nil))}, metrics: newMetrics(prometheus.NewRegistry())}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom/{id}", func(w http.ResponseWriter, r *http.Request) { panic("kaboom") })
	mux.HandleFunc("GET /ok/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) })
	ts := httptest.NewServer(s.observe(mux))
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/boom/1?secret=hunter2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 || resp.Header.Get("X-Request-ID") == "" {
		t.Fatalf("panic: status %d, request id %q", resp.StatusCode, resp.Header.Get("X-Request-ID"))
	}
	req, _ := http.NewRequest("GET", ts.URL+"/ok/2", nil)
	req.Header.Set("X-Request-ID", "abc-123")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-ID") != "abc-123" {
		t.Fatalf("request id not kept: %q", resp.Header.Get("X-Request-ID"))
	}
	ts.Close() // the log line and the counts come after the answer: wait for them
	out := logs.String()
	for _, want := range []string{`"msg":"panic serving request"`, `"request_id":"abc-123"`, `"path":"/ok/2"`, `"status":500`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Fatal("query string reached the log")
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("GET /boom/{id}", "GET", "500")); got != 1 {
		t.Fatalf("panic request counted %v times under its route", got)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("GET /ok/{id}", "GET", "200")); got != 1 {
		t.Fatalf("ok request counted %v times", got)
	}
}

// A library capability upload URL needs no Authorization: its id is the
// secret, so it must not reach the request log.
func TestObserveRedactsCapabilityURL(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{Services: &Services{Log: slog.New(slog.NewJSONHandler(&logs, nil))}, metrics: newMetrics(prometheus.NewRegistry())}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v2/imagefile/{a}/{b}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("PUT "+libraryapi.UploadPath+"{id}/{part}", func(w http.ResponseWriter, r *http.Request) { panic("kaboom") })
	ts := httptest.NewServer(s.observe(mux))
	defer ts.Close()
	const capability = "c4p4b1l1tyc4p4b1l1tyc4p4b1l1ty"
	for _, p := range []string{libraryapi.UploadPath + capability, libraryapi.UploadPath + capability + "/3"} {
		req, _ := http.NewRequest("PUT", ts.URL+p, strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	ts.Close() // the log lines come after the answers: wait for them
	out := logs.String()
	if strings.Contains(out, capability) {
		t.Fatalf("capability upload id reached the log:\n%s", out)
	}
	if !strings.Contains(out, `"path":"`+libraryapi.UploadPath+`REDACTED`) {
		t.Fatalf("log lacks the redacted path:\n%s", out)
	}
}

// A panic after the response has started cannot become a 500: the
// connection must be aborted so the client sees a truncated response, not
// a complete one.
func TestObservePanicAfterWriteAborts(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{Services: &Services{Log: slog.New(slog.NewJSONHandler(&logs, nil))}, metrics: newMetrics(prometheus.NewRegistry())}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /half", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		http.NewResponseController(w).Flush()
		panic("kaboom")
	})
	ts := httptest.NewServer(s.observe(mux))
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/half")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("truncated response read as complete: %q", body)
	}
	ts.Close() // waits for the handler, so its log line is complete
	if !strings.Contains(logs.String(), `"msg":"panic serving request"`) || !strings.Contains(logs.String(), `"msg":"request"`) {
		t.Errorf("panic or request not logged:\n%s", logs.String())
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("GET /half", "GET", "200")); got != 1 {
		t.Errorf("aborted request counted %v times", got)
	}
	if got := testutil.ToFloat64(s.metrics.inFlight); got != 0 {
		t.Errorf("in flight after abort: %v", got)
	}
}

// sregistry's image URLs are logged without their MAC.
func TestLogPath(t *testing.T) {
	for in, want := range map[string]string{
		"/api/download/c1/d2/mac3":            "/api/download/c1/d2/REDACTED",
		"/alice/api/download/c1/d2/mac3/more": "/alice/api/download/c1/d2/REDACTED",
		"/api/container/tools/app:latest":     "/api/container/tools/app:latest",
	} {
		if got := logPath(in); got != want {
			t.Errorf("logPath(%q) = %q, want %q", in, got, want)
		}
	}
}
