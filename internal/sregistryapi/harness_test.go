package sregistryapi_test

// The tests start the real composed server (servertest) and replay, over
// real HTTP, the exact requests of the two clients of this API, which
// cannot run here: sregistry-cli 0.2.39 is a Python package (PyPI is not
// reachable) and SingularityCE's shub client is an internal Go package of
// a program that is not installed. Both replays follow
// docs/protocols/sregistry-api.md (SR §n), which recorded them from the
// clients' source and their traffic: sregistry.go plays sregistry-cli,
// shub.go plays `singularity pull shub://`. The stored results are
// checked through the Library API (scs-library-client) and OCI (oras-go).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/servertest"
	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

type env struct {
	t     testing.TB
	srv   *servertest.Server
	users map[string]*user
}

// user is an account with an API token and that token's sregistry
// secrets, as the token page shows them.
type user struct {
	name, token, tokenID string
	secrets              []byte
	key                  string // the "token" of the secrets: the HMAC key
}

func newEnv(t testing.TB, edit ...func(*config.Config)) *env {
	t.Helper()
	e := &env{t: t, srv: servertest.Start(t, edit...), users: map[string]*user{}}
	e.user("alice", meta.RoleUser)
	e.user("bob", meta.RoleUser)
	e.user("root", meta.RoleAdmin)
	return e
}

// user creates an account and a token, and reads its secrets file.
func (e *env) user(name string, role meta.Role) *user {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.srv.Auth.CreateUser(ctx, name, role, "")
	if err != nil {
		e.t.Fatal(err)
	}
	tok, row, err := e.srv.Auth.IssueToken(ctx, name, "test", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	p := auth.Principal{UserID: u.ID, Name: name, Role: role}
	secrets, err := e.srv.SRegistry.ClientSecrets(ctx, p, row.ID, e.srv.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	var f struct {
		Client   string `json:"SREGISTRY_CLIENT"`
		Registry struct{ Token, Username, Base string }
	}
	if err := json.Unmarshal(secrets, &f); err != nil || f.Client != "registry" || f.Registry.Username != name ||
		f.Registry.Base != e.srv.URL || !strings.HasPrefix(f.Registry.Token, "silo_sreg_") {
		e.t.Fatalf("secrets %s: %v", secrets, err)
	}
	us := &user{name: name, token: tok, tokenID: row.ID, secrets: secrets, key: f.Registry.Token}
	e.users[name] = us
	return us
}

// cli is sregistry-cli for a user ("" anonymous) with the base of its
// secrets file (or base, when given).
func (e *env) cli(name string, base ...string) *cli {
	c := &cli{t: e.t, base: updateBase(e.srv.URL)}
	if len(base) > 0 {
		c.base = updateBase(base[0])
	}
	if u := e.users[name]; u != nil {
		c.user, c.key = u.name, u.key
	}
	return c
}

// makeSIF writes a SIF whose primary partition is size pseudo-random
// bytes (seeded: equal seeds, equal files) for arch; it returns the path
// and the bytes.
func makeSIF(t testing.TB, arch string, size int64, seed uint64) (string, []byte) {
	path := sifinspecttest.RandomSIF(t, fmt.Sprintf("img-%d.sif", seed), arch, size, seed)
	if size > 64<<20 {
		return path, nil
	}
	return path, sifinspecttest.ReadFile(t, path)
}

// makeLabelledSIF writes a SIF with a partition and a labels object (and
// a definition file), as `singularity build` leaves them.
func makeLabelledSIF(t testing.TB, labels map[string]string, def string) (string, []byte) {
	t.Helper()
	js, _ := json.Marshal(labels)
	part, err := sif.NewDescriptorInput(sif.DataPartition, strings.NewReader(strings.Repeat("squash", 1000)),
		sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	lab, err := sif.NewDescriptorInput(sif.DataLabels, bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	dfile, err := sif.NewDescriptorInput(sif.DataDeffile, strings.NewReader(def))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "labelled.sif")
	f, err := sif.CreateContainerAtPath(path, sif.OptCreateWithDescriptors(dfile, lab, part), sif.OptCreateDeterministic())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// do sends a raw request and returns the status, headers and body.
func (e *env) do(method, path, authz string, body io.Reader) (int, http.Header, []byte) {
	e.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, res.Header, b
}

// noRedirects is an HTTP client that shows redirects instead of following
// them: no path of this API may redirect (SR §7).
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// wantDetail checks an error answer is sregistry's {"detail": ...} with
// status want, and returns the detail.
func wantDetail(t testing.TB, status int, body []byte, want int) string {
	t.Helper()
	var d struct {
		Detail *string `json:"detail"`
	}
	if status != want {
		t.Fatalf("status %d, want %d: %s", status, want, body)
	}
	if err := json.Unmarshal(body, &d); err != nil || d.Detail == nil || *d.Detail == "" {
		t.Fatalf("not a {\"detail\"} answer: %s", body)
	}
	return *d.Detail
}

// images lists the library images of entity/collection/container, as
// "tag@digest" for tagged ones (nil when the container does not exist).
func (e *env) images(path string) []string {
	e.t.Helper()
	ref, err := e.srv.Library.ContainerByPath(context.Background(), auth.Principal{Role: meta.RoleAdmin, UserID: "x"}, path)
	if err != nil {
		return nil
	}
	info, err := e.srv.Library.GetContainer(context.Background(), auth.Principal{Role: meta.RoleAdmin, UserID: "x"},
		ref.Entity.Name, ref.Collection.Name, ref.Container.Name)
	if err != nil {
		e.t.Fatal(err)
	}
	out := []string{}
	for _, t := range info.Tags {
		out = append(out, t.Tag+"@"+t.ImageID)
	}
	for _, img := range info.Images {
		out = append(out, img.Digest)
	}
	return out
}

// stored lists committed blobs (but the {} config every SIF artifact
// shares), blob-store upload sessions and upload rows.
func (e *env) stored() (blobs []string, sessions, rows int) {
	e.t.Helper()
	blobs, sessions = e.srv.Stored(e.t)
	ups, err := e.srv.Meta.ListExpiredUploads(context.Background(), time.Now().Add(1000*time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	return blobs, sessions, len(ups)
}

// wantNoBytes checks no blob, blob session or upload row is left.
func (e *env) wantNoBytes() {
	e.t.Helper()
	if blobs, sessions, rows := e.stored(); len(blobs) != 0 || sessions != 0 || rows != 0 {
		e.t.Fatalf("left behind: blobs %v, %d blob sessions, %d upload rows", blobs, sessions, rows)
	}
}

// wantNoNames checks entity/collection does not exist.
func (e *env) wantNoCollection(entity, collection string) {
	e.t.Helper()
	hits, err := e.srv.Meta.FindCollections(context.Background(), meta.CollectionQuery{Name: collection, Viewer: meta.Viewer{Admin: true}})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range hits {
		if h.Entity.Name == entity {
			e.t.Fatalf("collection %s/%s was created", entity, collection)
		}
	}
}

func equal(a, b []byte) bool { return bytes.Equal(a, b) }

// jsonField reads a string field of a JSON object.
func jsonField(t testing.TB, body []byte, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	s, _ := m[field].(string)
	return s
}
