package apidoc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sylabs/scs-library-client/client"
)

// library calls the Library API's namespace, image, tag, search and
// metadata operations; pushes go through scs-library-client.
func (tr *tour) library() {
	t := tr.t
	for _, p := range []string{"/assets/config/config.prod.json", "/assets/config.json", "/version"} {
		tr.json("GET", p, "", "", http.StatusOK)
	}
	tr.json("GET", "/v1/token-status", "alice", "", http.StatusOK)
	tr.json("GET", "/v1/token-status", "", "", http.StatusUnauthorized)
	tr.json("GET", "/v1/rbac/users/current", "alice", "", http.StatusOK)
	tr.json("GET", "/v1/rbac/users/current", "", "", http.StatusUnauthorized)
	tr.json("GET", "/v1/oci-redirect?namespace=alice/tour/app&accessTypes=pull,push", "alice", "", http.StatusOK)
	tr.json("GET", "/v1/oci-redirect?namespace=alice/tour/app&accessTypes=pull", "alice", "", http.StatusNotFound)

	lib := &recorder{libraryOnly: true}
	lib.seen = nil
	c, err := client.NewClient(&client.Config{BaseURL: tr.srv.URL, AuthToken: tr.tokens["alice"], HTTPClient: &http.Client{Transport: lib}})
	if err != nil {
		t.Fatal(err)
	}
	img := sifBytes(t, "app")
	if _, err := c.UploadImage(context.Background(), bytes.NewReader(img), "alice/tour/app", "amd64", []string{"latest", "v1"}, "", nil); err != nil {
		t.Fatal(err)
	}
	tr.rec.seen = append(tr.rec.seen, lib.seen...)

	ent := tr.json("GET", "/v1/entities/alice", "alice", "", http.StatusOK)
	tr.json("GET", "/v1/entities/Bad", "alice", "", http.StatusBadRequest)
	tr.json("GET", "/v1/entities/nobody", "alice", "", http.StatusNotFound)
	tr.json("POST", "/v1/entities", "root", `{"name":"shared","description":"a shared entity"}`, http.StatusOK)
	tr.json("POST", "/v1/entities", "root", `{"name":"shared"}`, http.StatusConflict)
	tr.json("POST", "/v1/entities", "bob", `{"name":"other"}`, http.StatusForbidden)
	tr.json("GET", "/v1/collections/alice/tour", "", "", http.StatusOK)
	tr.json("GET", "/v1/collections/alice/nope", "", "", http.StatusNotFound)
	col := tr.json("POST", "/v1/collections", "alice", fmt.Sprintf(`{"entity":%q,"name":"made"}`, ent["id"]), http.StatusOK)
	tr.json("POST", "/v1/collections", "alice", fmt.Sprintf(`{"entity":%q,"name":"made"}`, ent["id"]), http.StatusConflict)
	tr.json("PUT", "/v1/collections/"+col["id"].(string), "alice", `{"private":true,"description":"made on tour"}`, http.StatusOK)
	tr.json("PUT", "/v1/collections/"+col["id"].(string), "bob", `{"private":false}`, http.StatusNotFound)
	tr.json("GET", "/v1/containers/alice/tour/app", "", "", http.StatusOK)
	tr.json("GET", "/v1/containers/alice/tour/nope", "", "", http.StatusNotFound)
	box := tr.json("POST", "/v1/containers", "alice", fmt.Sprintf(`{"collection":%q,"name":"box"}`, col["id"]), http.StatusOK)
	boxID := box["id"].(string)
	tr.json("PUT", "/v1/containers/"+boxID, "alice", `{"frozen":true}`, http.StatusOK)
	tr.json("PUT", "/v1/containers/"+boxID, "alice", `{"frozen":false}`, http.StatusOK)
	tr.json("GET", "/v1/images/alice/tour/app:latest?arch=amd64", "", "", http.StatusOK)
	tr.json("GET", "/v1/images/alice/tour/app:nope", "", "", http.StatusNotFound)
	tr.json("GET", "/v1/images/a/b/c/d", "", "", http.StatusBadRequest)
	appID := tr.json("GET", "/v1/containers/alice/tour/app", "", "", http.StatusOK)["id"].(string)
	imgID := tr.json("GET", "/v1/images/alice/tour/app:latest", "", "", http.StatusOK)["id"].(string)
	tr.json("GET", "/v1/tags/"+appID, "", "", http.StatusOK)
	tr.json("GET", "/v2/tags/"+appID, "", "", http.StatusOK)
	tr.json("POST", "/v1/tags/"+appID, "alice", fmt.Sprintf(`{"Tag":"v2","ImageID":%q}`, imgID), http.StatusOK)
	tr.json("POST", "/v2/tags/"+appID, "alice", fmt.Sprintf(`{"Tag":"v3","ImageID":%q,"Arch":"amd64"}`, imgID), http.StatusOK)
	tr.json("POST", "/v1/tags/"+appID, "bob", fmt.Sprintf(`{"Tag":"v4","ImageID":%q}`, imgID), http.StatusForbidden)
	tr.json("DELETE", "/v1/tags/"+appID+"?tag=v3&arch=amd64", "alice", "", http.StatusOK)
	tr.json("DELETE", "/v1/tags/"+appID+"?tag=v3&arch=amd64", "alice", "", http.StatusNotFound)
	tr.json("GET", "/v1/search?value=tour", "", "", http.StatusOK)
	tr.json("GET", "/v1/search?label=nonesuch", "", "", http.StatusOK)
	tr.json("GET", "/v1/search?value=ab", "", "", http.StatusBadRequest)
	tr.json("GET", "/v1/inspect/alice/tour/app:latest", "", "", http.StatusOK)
	tr.json("GET", "/v1/inspect/alice/tour/nope:latest", "", "", http.StatusNotFound)
	tr.json("GET", "/v1/labels", "", "", http.StatusOK)
	tr.json("GET", "/v1/labels?page=0", "", "", http.StatusBadRequest)
	if st, b, _ := tr.call("GET", "/v1/imagefile/alice/tour/app:latest", "", nil, ""); st != http.StatusOK || !bytes.Equal(b, img) {
		t.Fatalf("download: %d", st)
	}
	req, _ := http.NewRequest("GET", tr.srv.URL+"/v1/imagefile/alice/tour/app:latest", nil)
	req.Header.Set("Range", "bytes=0-9")
	if res, err := tr.hc.Do(req); err != nil || res.StatusCode != http.StatusPartialContent {
		t.Fatalf("range download: %v", err)
	}
	tr.json("GET", "/v1/imagefile/alice/tour/nope:latest", "", "", http.StatusNotFound)
	tr.json("GET", "/v1/containers?entity=alice&collection=tour", "", "", http.StatusOK)
	tr.json("GET", "/v1/containers?limit=0", "", "", http.StatusBadRequest)
	tourID := tr.json("GET", "/v1/collections/alice/tour", "", "", http.StatusOK)["id"].(string)
	fp := strings.Repeat("0123456789ABCDEF", 3)[:40]
	tr.json("GET", "/v1/signature-policies/"+tourID, "", "", http.StatusOK)
	tr.json("GET", "/v1/signature-policies/0a0a0a0a0a0a0a0a0a0a0a0a", "", "", http.StatusNotFound)
	tr.json("PUT", "/v1/signature-policies/"+tourID, "alice", fmt.Sprintf(`{"fingerprints":[%q]}`, fp), http.StatusOK)
	tr.json("PUT", "/v1/signature-policies/"+tourID, "alice", `{"fingerprints":["not a fingerprint"]}`, http.StatusBadRequest)
	tr.json("PUT", "/v1/signature-policies/"+tourID, "bob", `{"fingerprints":[]}`, http.StatusForbidden)
	tr.json("PUT", "/v1/signature-policies/"+tourID, "", `{"fingerprints":[]}`, http.StatusUnauthorized)
	tr.json("DELETE", "/v1/signature-policies/"+tourID, "bob", "", http.StatusForbidden)
	tr.json("DELETE", "/v1/signature-policies/"+tourID, "alice", "", http.StatusOK)
	// Deletes, last: an image, then a container and a collection.
	tr.json("DELETE", "/v1/images/alice/tour/app:v2", "bob", "", http.StatusForbidden)
	tr.json("DELETE", "/v1/images/alice/tour/app:latest", "alice", "", http.StatusOK)
	tr.json("DELETE", "/v1/images/alice/tour/app:latest", "alice", "", http.StatusNotFound)
	tr.json("DELETE", "/v1/containers/"+appID, "bob", "", http.StatusForbidden)
	tr.json("DELETE", "/v1/containers/"+appID, "alice", "", http.StatusOK)
	tr.json("DELETE", "/v1/collections/"+col["id"].(string), "", "", http.StatusNotFound) // private: as missing
	tr.json("DELETE", "/v1/collections/"+col["id"].(string), "alice", "", http.StatusOK)
}

// uploads calls the upload operations by hand: v1, v2 single-part and
// multipart (completed and aborted).
func (tr *tour) uploads() {
	t := tr.t
	ent := tr.json("GET", "/v1/entities/alice", "alice", "", http.StatusOK)
	col := tr.json("POST", "/v1/collections", "alice", fmt.Sprintf(`{"entity":%q,"name":"ups"}`, ent["id"]), http.StatusOK)
	con := tr.json("POST", "/v1/containers", "alice", fmt.Sprintf(`{"collection":%q,"name":"up"}`, col["id"]), http.StatusOK)
	newImage := func(content []byte) string {
		img := tr.json("POST", "/v1/images", "alice", fmt.Sprintf(`{"container":%q,"hash":"sha256.%s"}`, con["id"], sum(content)), http.StatusOK)
		return img["id"].(string)
	}
	tr.json("POST", "/v1/images", "bob", fmt.Sprintf(`{"container":%q,"hash":"sha256.%s"}`, con["id"], sum([]byte("x"))), http.StatusForbidden)

	v1 := sifBytes(t, "v1")
	id := newImage(v1)
	if st, b, _ := tr.call("POST", "/v1/imagefile/"+id, "alice", v1, "application/octet-stream"); st != http.StatusOK {
		t.Fatalf("v1 upload: %d %s", st, b)
	}
	tr.json("POST", "/v1/imagefile/"+id, "bob", "x", http.StatusForbidden)

	single := sifBytes(t, "single")
	id = newImage(single)
	start := tr.json("POST", "/v2/imagefile/"+id, "alice", fmt.Sprintf(`{"filesize":%d,"sha256sum":%q}`, len(single), sum(single)), http.StatusOK)
	if st, b, _ := tr.call("PUT", start["uploadURL"].(string), "", single, "application/octet-stream"); st != http.StatusOK {
		t.Fatalf("PUT upload URL: %d %s", st, b)
	}
	tr.json("PUT", "/v2/_upload/0123456789abcdef", "", "x", http.StatusNotFound)
	tr.json("PUT", "/v2/imagefile/"+id+"/_complete", "alice", "", http.StatusOK)
	tr.json("PUT", "/v2/imagefile/0a0a0a0a0a0a0a0a0a0a0a0a/_complete", "alice", "", http.StatusNotFound)

	multi := sifBytes(t, "multi")
	id = newImage(multi)
	mp := tr.json("POST", "/v2/imagefile/"+id+"/_multipart", "alice", fmt.Sprintf(`{"filesize":%d}`, len(multi)), http.StatusOK)
	up := mp["uploadID"].(string)
	part := tr.json("PUT", "/v2/imagefile/"+id+"/_multipart", "alice",
		fmt.Sprintf(`{"partSize":%d,"uploadID":%q,"partNumber":1,"sha256sum":%q}`, len(multi), up, sum(multi)), http.StatusOK)
	st, b, h := tr.call("PUT", part["presignedURL"].(string), "", multi, "application/octet-stream")
	if st != http.StatusOK {
		t.Fatalf("part: %d %s", st, b)
	}
	done, _ := json.Marshal(map[string]any{"uploadID": up, "completedParts": []map[string]any{{"partNumber": 1, "token": h.Get("ETag")}}})
	tr.json("PUT", "/v2/imagefile/"+id+"/_multipart_complete", "alice", string(done), http.StatusOK)
	tr.json("PUT", "/v2/_upload/0123456789abcdef/1", "", "x", http.StatusNotFound)

	aborted := sifBytes(t, "aborted")
	id = newImage(aborted)
	mp = tr.json("POST", "/v2/imagefile/"+id+"/_multipart", "alice", fmt.Sprintf(`{"filesize":%d}`, len(aborted)), http.StatusOK)
	tr.json("PUT", "/v2/imagefile/"+id+"/_multipart_abort", "alice", fmt.Sprintf(`{"uploadID":%q}`, mp["uploadID"]), http.StatusOK)
	tr.json("PUT", "/v2/imagefile/"+id+"/_multipart_abort", "bob", fmt.Sprintf(`{"uploadID":%q}`, mp["uploadID"]), http.StatusForbidden)
	tr.json("POST", "/v2/imagefile/"+id+"/_multipart", "bob", `{"filesize":10}`, http.StatusForbidden)
	tr.json("POST", "/v2/imagefile/"+id, "bob", `{"filesize":10}`, http.StatusForbidden)
	tr.json("PUT", "/v2/imagefile/"+id+"/_multipart", "bob", `{"partSize":1,"uploadID":"x","partNumber":1}`, http.StatusForbidden)
}

// accounts calls every account API operation.
func (tr *tour) accounts() {
	tok := tr.json("POST", "/v1/tokens", "alice", `{"label":"tour","expiresInDays":30}`, http.StatusCreated)
	tr.json("POST", "/v1/tokens", "alice", `{"expiresInDays":-1}`, http.StatusBadRequest)
	tr.json("GET", "/v1/tokens", "alice", "", http.StatusOK)
	tr.json("GET", "/v1/tokens", "", "", http.StatusUnauthorized)
	tr.json("DELETE", "/v1/tokens/"+tok["id"].(string), "alice", "", http.StatusOK)
	tr.json("DELETE", "/v1/tokens/"+tok["id"].(string), "bob", "", http.StatusNotFound)
	tr.json("POST", "/v1/account/password", "alice", `{"current":"alice-password","new":"alice-new-password"}`, http.StatusOK)
	tr.json("POST", "/v1/account/password", "alice", `{"current":"wrong","new":"alice-newer-password"}`, http.StatusBadRequest)
	tr.json("GET", "/v1/users", "root", "", http.StatusOK)
	tr.json("GET", "/v1/users", "bob", "", http.StatusForbidden)
	tr.json("POST", "/v1/users", "root", `{"name":"dave","role":"user","password":"dave-password"}`, http.StatusCreated)
	tr.json("POST", "/v1/users", "root", `{"name":"dave"}`, http.StatusConflict)
	tr.json("GET", "/v1/users/dave", "root", "", http.StatusOK)
	tr.json("GET", "/v1/users/nobody", "root", "", http.StatusNotFound)
	tr.json("PATCH", "/v1/users/dave", "root", `{"role":"manager"}`, http.StatusOK)
	tr.json("PATCH", "/v1/users/dave", "bob", `{"role":"admin"}`, http.StatusForbidden)
	tr.json("POST", "/v1/teams", "root", `{"name":"lab"}`, http.StatusCreated)
	tr.json("POST", "/v1/teams", "root", `{"name":"lab"}`, http.StatusConflict)
	tr.json("GET", "/v1/teams", "bob", "", http.StatusOK)
	tr.json("PUT", "/v1/teams/lab/members/bob", "root", "", http.StatusOK)
	tr.json("GET", "/v1/teams/lab", "bob", "", http.StatusOK)
	tr.json("GET", "/v1/teams/nope", "bob", "", http.StatusNotFound)
	colID := tr.json("GET", "/v1/collections/alice/ups", "alice", "", http.StatusOK)["id"].(string)
	tr.json("PUT", "/v1/grants/"+colID+"/lab", "alice", "", http.StatusOK)
	tr.json("GET", "/v1/grants/"+colID, "alice", "", http.StatusOK)
	tr.json("GET", "/v1/grants/"+colID, "bob", "", http.StatusForbidden)
	tr.json("DELETE", "/v1/grants/"+colID+"/lab", "alice", "", http.StatusOK)
	tr.json("DELETE", "/v1/teams/lab/members/bob", "root", "", http.StatusOK)
	tr.json("DELETE", "/v1/teams/lab", "root", "", http.StatusOK)
	tr.json("GET", "/v1/settings", "bob", "", http.StatusOK)
	tr.json("PATCH", "/v1/settings", "root", `{"defaultPrivate":false}`, http.StatusOK)
	tr.json("PATCH", "/v1/settings", "root", `{"nonsense":1}`, http.StatusBadRequest)
}

// oci calls the OCI endpoints by hand, with a registry token.
func (tr *tour) oci() {
	t := tr.t
	repo := "alice/plain"
	q := url.Values{"service": {tr.srv.Host}, "scope": {"repository:" + repo + ":pull,push,delete", "registry:catalog:*"}}
	tr.json("GET", "/v2/", "", "", http.StatusUnauthorized)
	tok := tr.json("GET", "/v2/token?"+q.Encode(), "basic:alice", "", http.StatusOK)["token"].(string)
	bearer := "bearer:" + tok
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {tr.tokens["alice"]}, "service": {tr.srv.Host}, "scope": {"repository:" + repo + ":pull"}}
	if st, b, _ := tr.call("POST", "/v2/token", "", []byte(form.Encode()), "application/x-www-form-urlencoded"); st != http.StatusOK {
		t.Fatalf("OAuth2 token: %d %s", st, b)
	}
	tr.call("POST", "/v2/token", "", []byte("grant_type=magic"), "application/x-www-form-urlencoded")
	tr.json("GET", "/v2/", bearer, "", http.StatusOK)

	config := []byte("{}")
	layer := []byte("a layer of bytes")
	// Monolithic push of the config; chunked push of the layer.
	if st, b, _ := tr.call("POST", "/v2/"+repo+"/blobs/uploads/?digest=sha256:"+sum(config), bearer, config, "application/octet-stream"); st != http.StatusCreated {
		t.Fatalf("monolithic: %d %s", st, b)
	}
	st, b, h := tr.call("POST", "/v2/"+repo+"/blobs/uploads/", bearer, nil, "")
	if st != http.StatusAccepted {
		t.Fatalf("start: %d %s", st, b)
	}
	loc := h.Get("Location")
	tr.call("PATCH", loc, bearer, layer, "application/octet-stream")
	tr.call("GET", loc, bearer, nil, "")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	if st, b, _ := tr.call("PUT", loc+sep+"digest=sha256:"+sum(layer), bearer, nil, "application/octet-stream"); st != http.StatusCreated {
		t.Fatalf("finish: %d %s", st, b)
	}
	_, _, h = tr.call("POST", "/v2/"+repo+"/blobs/uploads/", bearer, nil, "")
	tr.call("DELETE", h.Get("Location"), bearer, nil, "")
	tr.call("PATCH", "/v2/"+repo+"/blobs/uploads/nosuch", bearer, layer, "application/octet-stream")
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}`,
		sum(config), len(config), sum(layer), len(layer))
	mt := "application/vnd.oci.image.manifest.v1+json"
	if st, b, _ := tr.call("PUT", "/v2/"+repo+"/manifests/v1", bearer, []byte(manifest), mt); st != http.StatusCreated {
		t.Fatalf("manifest: %d %s", st, b)
	}
	tr.call("PUT", "/v2/"+repo+"/manifests/bad", bearer, []byte("{"), mt)
	digest := "sha256:" + sum([]byte(manifest))
	for _, m := range []string{"GET", "HEAD"} {
		tr.call(m, "/v2/"+repo+"/manifests/v1", bearer, nil, "")
		tr.call(m, "/v2/"+repo+"/blobs/sha256:"+sum(layer), bearer, nil, "")
		tr.call(m, "/v2/"+repo+"/manifests/nope", bearer, nil, "")
	}
	tr.call("GET", "/v2/"+repo+"/blobs/sha256:"+sum([]byte("none")), bearer, nil, "")
	tr.call("GET", "/v2/"+repo+"/tags/list", bearer, nil, "")
	tr.call("GET", "/v2/"+repo+"/referrers/"+digest, bearer, nil, "")
	tr.call("GET", "/v2/"+repo+"/referrers/nonsense", bearer, nil, "")
	tr.call("GET", "/v2/_catalog", bearer, nil, "")
	tr.call("GET", "/v2/alice/other/tags/list", "", nil, "")
	if st, b, _ := tr.call("DELETE", "/v2/"+repo+"/manifests/"+digest, bearer, nil, ""); st != http.StatusAccepted {
		t.Fatalf("delete manifest: %d %s", st, b)
	}
	if st, b, _ := tr.call("DELETE", "/v2/"+repo+"/blobs/sha256:"+sum(layer), bearer, nil, ""); st != http.StatusAccepted {
		t.Fatalf("delete blob: %d %s", st, b)
	}
	tr.call("DELETE", "/v2/"+repo+"/blobs/sha256:"+sum(layer), bearer, nil, "")
}
