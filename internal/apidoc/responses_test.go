package apidoc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/servertest"
)

// exchange is one request and the response the client got.
type exchange struct {
	req    *http.Request
	status int
	header http.Header
	body   []byte
}

// recorder is a client transport that keeps every exchange.
type recorder struct {
	mu   sync.Mutex
	seen []exchange
	// libraryOnly answers the Library client's OCI probe with 404 itself
	// (unrecorded), so its pushes use the Library API.
	libraryOnly bool
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.libraryOnly && strings.HasSuffix(req.URL.Path, "/v1/oci-redirect") {
		return &http.Response{StatusCode: 404, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.seen = append(r.seen, exchange{req: req, status: res.StatusCode, header: res.Header.Clone(), body: body})
	r.mu.Unlock()
	return res, nil
}

// tour drives every endpoint through one recording client.
type tour struct {
	t      *testing.T
	srv    *servertest.Server
	rec    *recorder
	hc     *http.Client
	tokens map[string]string
}

// call sends a request; auth is "" (none), a user name (Bearer API
// token), "basic:<user>" or "bearer:<token>".
func (tr *tour) call(method, path, auth string, body []byte, ctype string) (int, []byte, http.Header) {
	tr.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = tr.srv.URL + path
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		tr.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	switch {
	case strings.HasPrefix(auth, "basic:"):
		user := strings.TrimPrefix(auth, "basic:")
		req.SetBasicAuth(user, tr.tokens[user])
	case strings.HasPrefix(auth, "bearer:"):
		req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(auth, "bearer:"))
	case auth != "":
		req.Header.Set("Authorization", "Bearer "+tr.tokens[auth])
	}
	res, err := tr.hc.Do(req)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, res.Header
}

// json calls with a JSON body and expects a status; it returns "data"
// (or the whole body when there is none) decoded.
func (tr *tour) json(method, path, auth, body string, status int) map[string]any {
	tr.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	st, out, _ := tr.call(method, path, auth, b, "")
	if st != status {
		tr.t.Fatalf("%s %s: %d, want %d: %s", method, path, st, status, out)
	}
	var v map[string]any
	_ = json.Unmarshal(out, &v)
	if d, ok := v["data"].(map[string]any); ok {
		return d
	}
	return v
}

func sifBytes(t *testing.T, seed string) []byte {
	t.Helper()
	di, err := sif.NewDescriptorInput(sif.DataPartition, strings.NewReader("tour "+seed),
		sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	buf := sif.NewBuffer(nil)
	f, err := sif.CreateContainer(buf, sif.OptCreateWithDescriptors(di), sif.OptCreateDeterministic(), sif.OptCreateWithCloseOnUnload(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Every response of every operation the document describes validates
// against it: a tour calls each operation (successes and the usual
// errors) with real clients and raw HTTP, and kin-openapi checks each
// answer's status, content type and body against the document. An
// operation the tour never reached fails the test, so the document and
// the tour grow together.
func TestResponsesMatchDocument(t *testing.T) {
	for _, mt := range []string{"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json"} {
		openapi3filter.RegisterBodyDecoder(mt, openapi3filter.JSONBodyDecoder)
	}
	srv := servertest.Start(t)
	rec := &recorder{}
	tr := &tour{t: t, srv: srv, rec: rec, hc: &http.Client{Transport: rec}, tokens: map[string]string{}}
	for name, role := range map[string]meta.Role{"alice": meta.RoleUser, "bob": meta.RoleUser, "root": meta.RoleAdmin} {
		_, tr.tokens[name] = srv.User(t, name, role)
	}
	tr.library()
	tr.uploads()
	tr.accounts()
	tr.oci()
	validate(t, load(t), rec.seen)
}

// validate checks each exchange against its operation and that every
// operation was seen.
func validate(t *testing.T, doc *openapi3.T, seen []exchange) {
	routes := routesOf(doc)
	covered := map[string]bool{}
	for _, ex := range seen {
		rt, params := match(routes, ex.req.Method, ex.req.URL.Path)
		if rt == nil {
			t.Errorf("%s %s answered %d but is not in the document", ex.req.Method, ex.req.URL.Path, ex.status)
			continue
		}
		covered[rt.Operation.OperationID] = true
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: ex.req, PathParams: params, Route: rt},
			Status:                 ex.status, Header: ex.header, Body: io.NopCloser(bytes.NewReader(ex.body)),
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s -> %d %s: %v\n%.600s", ex.req.Method, ex.req.URL.Path, ex.status, ex.header.Get("Content-Type"), err, ex.body)
		}
	}
	var missing []string
	for _, rt := range routes {
		if !covered[rt.Operation.OperationID] {
			missing = append(missing, rt.Method+" "+rt.Path)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations the tour never called:\n%s", strings.Join(missing, "\n"))
	}
}

type docRoute struct {
	routers.Route
	re      *regexp.Regexp
	names   []string
	literal int
}

// routesOf makes a matcher per operation. Repository names and library
// refs contain slashes, so {name} and {ref} match across segments.
func routesOf(doc *openapi3.T) []*docRoute {
	var out []*docRoute
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			r := &docRoute{Route: routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}}
			pattern := regexp.MustCompile(`\\\{([a-z]+)\\\}`).ReplaceAllStringFunc("^"+regexp.QuoteMeta(path), func(p string) string {
				name := strings.Trim(p, `\{}`)
				r.names = append(r.names, name)
				if name == "name" && strings.HasPrefix(path, "/v2/{name}") || name == "ref" {
					return "(.+)"
				}
				return "([^/]+)"
			}) + "$"
			r.re = regexp.MustCompile(pattern)
			r.literal = len(paramRe.ReplaceAllString(path, ""))
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].literal > out[j].literal })
	return out
}

func match(routes []*docRoute, method, path string) (*routers.Route, map[string]string) {
	for _, r := range routes {
		if r.Method != method {
			continue
		}
		m := r.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		params := map[string]string{}
		for i, n := range r.names {
			params[n] = m[i+1]
		}
		return &r.Route, params
	}
	return nil, nil
}
