package libraryapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/libraryapi"
)

// privateFixture is, for bob, one private thing of each kind (alice's
// private collection, its container, an image in it) and a missing one.
type privateFixture struct {
	entity, collection, container, image string // alice's, private
	missing                              string // an id nothing has
}

func newPrivateFixture(t *testing.T, e *env) privateFixture {
	t.Helper()
	alice := e.client("alice")
	alice.mustPush(t, makeSIF(t, "amd64", 4096, 7), "alice/priv/app", "amd64", "v1")
	var f privateFixture
	var ent struct{ ID string }
	e.doJSON("GET", "/v1/entities/alice", e.tokens["alice"], nil, &ent)
	var col struct{ ID string }
	e.doJSON("GET", "/v1/collections/alice/priv", e.tokens["alice"], nil, &col)
	if st, b := e.doJSON("PUT", "/v1/collections/"+col.ID, e.tokens["alice"], `{"private":true}`, nil); st != http.StatusOK {
		t.Fatalf("make private: %d %s", st, b)
	}
	var con struct{ ID string }
	e.doJSON("GET", "/v1/containers/alice/priv/app", e.tokens["alice"], nil, &con)
	// A second image, created but not uploaded: the upload calls name it.
	var img struct{ ID string }
	e.doJSON("POST", "/v1/images", e.tokens["alice"], map[string]string{"container": con.ID, "hash": hashOf([]byte("pending"))}, &img)
	f.entity, f.collection, f.container, f.image = ent.ID, col.ID, con.ID, img.ID
	f.missing = strings.Repeat("0a", 12)
	if f.entity == "" || f.collection == "" || f.container == "" || f.image == "" {
		t.Fatalf("fixture %+v", f)
	}
	return f
}

// libraryWrite says how to call one write route on a private thing and on
// a missing one: the path's {id} (or {ref...}) and the body, each with
// "ID" standing for the id. skip gives the reason a route has no private
// counterpart. A write route added to the router without an entry here
// fails TestLibraryWritesPrivateLooksMissing.
type libraryWrite struct {
	private, missing string // what {id} or {ref...} becomes
	body             string
	skip             string
}

func libraryWrites(f privateFixture) map[string]libraryWrite {
	image := libraryWrite{private: f.image, missing: f.missing, body: `{"filesize":1,"uploadID":"x","partNumber":1,"partSize":1}`}
	return map[string]libraryWrite{
		"POST /v1/entities": {body: `{"name":"alice"}`, skip: "entities are public: creating one is refused by name alone"},
		// The collection name exists privately in alice's entity vs not.
		"POST /v1/collections":                       {private: "priv", missing: "nope", body: `{"entity":"` + f.entity + `","name":"ID"}`},
		"PUT /v1/collections/{id}":                   {private: f.collection, missing: f.missing, body: `{"private":false}`},
		"POST /v1/containers":                        {private: f.collection, missing: f.missing, body: `{"collection":"ID","name":"new"}`},
		"PUT /v1/containers/{id}":                    {private: f.container, missing: f.missing, body: `{"frozen":true}`},
		"POST /v1/images":                            {private: f.container, missing: f.missing, body: `{"container":"ID","hash":"` + hashOf([]byte("x")) + `"}`},
		"DELETE /v1/images/{ref...}":                 {private: "alice/priv/app:v1", missing: "alice/nope/app:v1"},
		"DELETE /v1/containers/{id}":                 {private: f.container, missing: f.missing},
		"DELETE /v1/collections/{id}":                {private: f.collection, missing: f.missing},
		"DELETE /v1/tags/{id}":                       {private: f.container, missing: f.missing},
		"POST /v1/tags/{id}":                         {private: f.container, missing: f.missing, body: `{"Tag":"x","ImageID":"` + f.image + `"}`},
		"POST /v2/tags/{id}":                         {private: f.container, missing: f.missing, body: `{"Tag":"x","ImageID":"` + f.image + `","Arch":"amd64"}`},
		"POST /v1/imagefile/{id}":                    {private: f.image, missing: f.missing, body: "data"},
		"POST /v2/imagefile/{id}":                    image,
		"POST /v2/imagefile/{id}/_multipart":         image,
		"PUT /v2/imagefile/{id}/_multipart":          image,
		"PUT /v2/imagefile/{id}/_complete":           image,
		"PUT /v2/imagefile/{id}/_multipart_complete": image,
		"PUT /v2/imagefile/{id}/_multipart_abort":    image,
		"PUT /v1/signature-policies/{id}":            {private: f.collection, missing: f.missing, body: `{"fingerprints":["` + strings.Repeat("AB", 20) + `"]}`},
		"DELETE /v1/signature-policies/{id}":         {private: f.collection, missing: f.missing},
		"PUT /v2/_upload/{id}":                       {skip: "a capability URL: its 256-bit id is the credential"},
		"PUT /v2/_upload/{id}/{part}":                {skip: "a capability URL: its 256-bit id is the credential"},
	}
}

// Every write route of the Library API answers a private thing exactly as
// a missing one, to another user and to an anonymous caller: status and
// message (the message may name what was asked for). The requests are
// generated from the router's own route table.
func TestLibraryWritesPrivateLooksMissing(t *testing.T) {
	e := newEnv(t)
	f := newPrivateFixture(t, e)
	writes := libraryWrites(f)
	for _, rt := range libraryapi.New(nil, nil, nil, "").Routes() {
		if !rt.Write {
			continue
		}
		w, ok := writes[rt.Method+" "+rt.Pattern]
		switch {
		case !ok:
			t.Errorf("write route %s %s has no entry in libraryWrites", rt.Method, rt.Pattern)
			continue
		case w.skip != "":
			continue
		}
		call := func(id, other, token string) (int, string) {
			path := strings.NewReplacer("{id}", id, "{ref...}", id).Replace(rt.Pattern)
			st, b := e.do(rt.Method, path, token, strings.NewReader(strings.ReplaceAll(w.body, "ID", id)))
			return st, asked(string(b), id, other)
		}
		for _, who := range []string{"bob", ""} {
			pst, pb := call(w.private, w.missing, e.tokens[who])
			mst, mb := call(w.missing, w.private, e.tokens[who])
			if pst != mst || pb != mb || pst < 400 {
				t.Errorf("%s %s as %q: private %d %s, missing %d %s", rt.Method, rt.Pattern, who, pst, pb, mst, mb)
			}
		}
	}
}

// asked replaces in an answer what the request named (id, or the parts of
// a ref that differ from other's) with "ID": an answer may repeat what was
// asked for, and nothing else may differ.
func asked(answer, id, other string) string {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == ':' })
	}
	a, b := split(id), split(other)
	answer = strings.ReplaceAll(answer, id, "ID")
	for i := range a {
		if i < len(b) && a[i] != b[i] {
			answer = strings.ReplaceAll(answer, a[i], "ID")
		}
	}
	return answer
}

// The reads by id answer a private thing as a missing one too, for a
// stranger and anonymously.
func TestLibraryReadsByIDPrivateLooksMissing(t *testing.T) {
	e := newEnv(t)
	f := newPrivateFixture(t, e)
	reads := map[string][2]string{ // pattern -> private id, missing id
		"/v1/tags/{id}":               {f.container, f.missing},
		"/v2/tags/{id}":               {f.container, f.missing},
		"/v1/signature-policies/{id}": {f.collection, f.missing},
	}
	for _, rt := range libraryapi.New(nil, nil, nil, "").Routes() {
		if rt.Write || rt.Method != "GET" || !strings.Contains(rt.Pattern, "{id}") {
			continue
		}
		ids, ok := reads[rt.Pattern]
		if !ok {
			t.Errorf("read route %s %s has no entry here", rt.Method, rt.Pattern)
			continue
		}
		if st, b := e.do("GET", strings.Replace(rt.Pattern, "{id}", ids[0], 1), e.tokens["alice"], nil); st != http.StatusOK {
			t.Fatalf("GET %s as its owner: %d %s", rt.Pattern, st, b)
		}
		for _, who := range []string{"bob", ""} {
			pst, pb := e.do("GET", strings.Replace(rt.Pattern, "{id}", ids[0], 1), e.tokens[who], nil)
			mst, mb := e.do("GET", strings.Replace(rt.Pattern, "{id}", ids[1], 1), e.tokens[who], nil)
			if p, m := asked(string(pb), ids[0], ids[1]), asked(string(mb), ids[1], ids[0]); pst != mst || p != m || pst < 400 {
				t.Errorf("GET %s as %q: private %d %s, missing %d %s", rt.Pattern, who, pst, p, mst, m)
			}
		}
	}
}
