package httpx

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
)

// ServeContent serves ranges as http.ServeContent does, returns an
// unsatisfiable one as an error for the protocol to write, and keeps the
// sendfile path of an *os.File.
func TestServeContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	var readFrom bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		err = ServeContent(readFromSpy{w, &readFrom}, r, time.Time{}, f)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) || apperr.SubjectOf(err) != apperr.Range {
				t.Errorf("error %v", err)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			io.WriteString(w, `{"refused":true}`)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		rng, status, body, contentRange string
	}{
		{"", "200", "0123456789", ""},
		{"bytes=2-4", "206", "234", "bytes 2-4/10"},
		{"bytes=20-", "416", `{"refused":true}`, "bytes */10"},
		{"bytes=5-2", "416", `{"refused":true}`, ""},
	} {
		readFrom = false
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if got := res.Status[:3]; got != tc.status || string(b) != tc.body || (tc.contentRange != "" && res.Header.Get("Content-Range") != tc.contentRange) {
			t.Errorf("Range %q: %s %q Content-Range %q", tc.rng, res.Status, b, res.Header.Get("Content-Range"))
		}
		if tc.status == "416" && strings.Contains(res.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("Range %q answered as text", tc.rng)
		}
		if tc.status == "200" && !readFrom {
			t.Errorf("the whole file was not sent through ReadFrom (sendfile)")
		}
	}
}

// readFromSpy records that io.Copy reached the connection's ReadFrom.
type readFromSpy struct {
	http.ResponseWriter
	called *bool
}

func (s readFromSpy) ReadFrom(src io.Reader) (int64, error) {
	*s.called = true
	return s.ResponseWriter.(io.ReaderFrom).ReadFrom(src)
}
