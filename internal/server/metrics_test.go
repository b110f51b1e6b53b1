package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/servertest"
)

// /metrics of the composed server: the database pools' statistics (each
// of SQLite's three pools by name) and the bytes requests moved.
func TestMetrics(t *testing.T) {
	srv := servertest.Start(t)
	// One connection: the server reads the second request only after the
	// first's handler, and so its counting, has returned.
	c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	res, err := c.Get(srv.URL + "/v1/search?value=nothing")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	res, err = c.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	text := string(b)
	for _, want := range []string{
		`go_sql_open_connections{db_name="silo_write"}`,
		`go_sql_open_connections{db_name="silo_read"}`,
		`go_sql_open_connections{db_name="silo_search"}`,
		`go_sql_wait_count_total{db_name="silo_write"}`,
		`silo_http_response_body_bytes_total{method="GET",route="GET /v1/search"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
