package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestObserve(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewJSONHandler(&logs, nil)), metrics: newMetrics(prometheus.NewRegistry())}
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
