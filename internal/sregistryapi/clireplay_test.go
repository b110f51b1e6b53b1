package sregistryapi_test

// cli replays sregistry-cli 0.2.39's registry backend (SR §1-§3): the
// same URLs, methods, headers, bodies and signatures, and the same
// decisions on the answers (what it retries, what ends it).

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

type cli struct {
	t         testing.TB
	base      string // after _update_base: "<base>/api"
	user, key string
	// at is the signing time (zero: now), for expired signatures.
	at time.Time
	// sent lists "METHOD path" of every request.
	sent []string
}

// updateBase is _update_base (SR §1): strip "/", add "/api" unless the
// base ends with "api".
func updateBase(b string) string {
	b = strings.Trim(b, "/")
	if !strings.HasSuffix(b, "api") {
		b += "/api"
	}
	return b
}

// sign is authorize() (SR §2.1): the header for kind over the lowercased
// names, timestamped to the UTC hour.
func (c *cli) sign(kind, coll, name, tag string) string {
	at := c.at
	if at.IsZero() {
		at = time.Now()
	}
	ts := at.UTC().Format("20060102T15Z")
	m := hmac.New(sha256.New, []byte(c.key))
	m.Write([]byte(kind + "|" + coll + "|" + ts + "|" + name + "|" + tag + "|"))
	return fmt.Sprintf("SREGISTRY-HMAC-SHA256 Credential=%s/%s/%s,Signature=%s",
		kind, base64.StdEncoding.EncodeToString([]byte(c.user)), ts, hex.EncodeToString(m.Sum(nil)))
}

// send sends one request with requests' default headers (SR §3.0); follow
// says whether redirects are followed (not for requests.head).
func (c *cli) send(method, url string, hdr map[string]string, body io.Reader, length int64, follow bool) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("User-Agent", "python-requests/2.31.0")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	req.Header.Set("Connection", "keep-alive")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c.sent = append(c.sent, method+" "+req.URL.Path)
	hc := http.DefaultClient
	if !follow {
		hc = noRedirects
	}
	res, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res, b
}

// get is _get: Content-Type: application/json on every call, plus the
// headers the client holds (Authorization after a 403).
func (c *cli) get(url, authz string) (*http.Response, []byte) {
	hdr := map[string]string{"Content-Type": "application/json"}
	if authz != "" {
		hdr["Authorization"] = authz
	}
	return c.send("GET", url, hdr, nil, 0, true)
}

// pulled is what a pull did: the client's outcome ("ok", or the message
// it prints), the manifest and the file.
type pulled struct {
	outcome  string
	manifest map[string]any
	file     []byte
}

// pull is `sregistry pull coll/name:tag` (SR §3.1): the manifest GET, a
// signed retry after a 403, then HEAD and GET of the image URL without
// Authorization.
func (c *cli) pull(coll, name, tag string) pulled {
	c.t.Helper()
	coll, name, tag = strings.ToLower(coll), strings.ToLower(name), strings.ToLower(tag)
	url := fmt.Sprintf("%s/container/%s/%s:%s", c.base, coll, name, tag)
	res, body := c.get(url, "")
	if res.StatusCode == http.StatusForbidden {
		res, body = c.get(url, c.sign("pull", coll, name, tag))
		if res.StatusCode == http.StatusForbidden {
			return pulled{outcome: "Unauthorized (403)"}
		}
	}
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return pulled{outcome: "Not Found: 404"}
	default:
		return pulled{outcome: fmt.Sprintf("silent %d", res.StatusCode)}
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return pulled{outcome: "malformed response"}
	}
	image, _ := m["image"].(string)
	if image == "" {
		return pulled{outcome: "no image", manifest: m}
	}
	// requests.head: no headers of the client's, no redirects.
	if hres, _ := c.send("HEAD", image, nil, nil, 0, false); hres.StatusCode != 200 && hres.StatusCode != 401 {
		return pulled{outcome: fmt.Sprintf("Invalid url or permissions (HEAD %d)", hres.StatusCode), manifest: m}
	}
	gres, file := c.send("GET", image, map[string]string{"Content-Type": "application/json"}, nil, 0, true)
	if gres.StatusCode != 200 {
		return pulled{outcome: fmt.Sprintf("Problem with stream, response %d", gres.StatusCode), manifest: m}
	}
	return pulled{outcome: "ok", manifest: m, file: file}
}

// pushed is what a push saw: each step's status and body.
type pushed struct {
	status1, status2 int
	body1, body2     []byte
}

// push is `sregistry push --name coll/name:tag FILE` (SR §3.2). registry,
// when set, is a registry named in the image (its push has no /api).
func (c *cli) push(path, coll, name, tag string, registry ...string) pushed {
	c.t.Helper()
	reg := c.base
	if len(registry) > 0 {
		reg = registry[0]
	}
	// requests' json=: json.dumps with its default separators.
	body := fmt.Sprintf(`{"collection": %q, "name": %q, "tag": %q}`, coll, name, tag)
	res, b := c.send("POST", reg+"/upload/chunked_upload", map[string]string{
		"Authorization": c.sign("push", coll, name, tag), "Content-Type": "application/json"},
		strings.NewReader(body), int64(len(body)), true)
	out := pushed{status1: res.StatusCode, body1: b}
	if res.StatusCode != 200 {
		return out
	}
	var r struct{ Cid json.Number }
	if err := json.Unmarshal(b, &r); err != nil || r.Cid == "" {
		c.t.Fatalf("step 1 answered %s", b)
	}
	out.status2, out.body2 = c.upload(strings.ReplaceAll(reg, "/api", "")+"/upload", path, coll, name, tag, r.Cid.String())
	return out
}

// upload is push step 2: requests-toolbelt's MultipartEncoder, fields in
// the client's order, the file part text/plain, one body with a
// Content-Length (SR §3.2).
func (c *cli) upload(url, path, coll, name, tag, cid string) (int, []byte) {
	c.t.Helper()
	event := c.sign("upload", coll, name, tag)
	f, err := os.Open(path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	head, tail, ctype := multipartFrame([][2]string{{"SREGISTRY_EVENT", event}, {"name", name}, {"collection", cid}, {"tag", tag}},
		name+":"+tag+".sif")
	body := io.MultiReader(strings.NewReader(head), f, strings.NewReader(tail))
	res, b := c.send("POST", url, map[string]string{"Content-Type": ctype, "Authorization": event},
		body, int64(len(head))+fi.Size()+int64(len(tail)), true)
	return res.StatusCode, b
}

// multipartFrame returns what comes before and after the file's bytes in
// requests-toolbelt's encoding, and the Content-Type.
func multipartFrame(fields [][2]string, filename string) (head, tail, ctype string) {
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	boundary := hex.EncodeToString(rnd[:])
	var b bytes.Buffer
	for _, f := range fields {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n", boundary, f[0], f[1])
	}
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"file1\"; filename=\"%s\"\r\nContent-Type: text/plain\r\n\r\n", boundary, filename)
	return b.String(), "\r\n--" + boundary + "--\r\n", "multipart/form-data; boundary=" + boundary
}

// delete is `sregistry delete -f coll/name:tag` (SR §3.4); registry as
// for push.
func (c *cli) delete(coll, name, tag string, registry ...string) (int, []byte) {
	c.t.Helper()
	reg := c.base
	if len(registry) > 0 {
		reg = registry[0]
	}
	res, b := c.send("DELETE", fmt.Sprintf("%s/container/%s/%s:%s", reg, coll, name, tag), map[string]string{
		"Content-Type": "application/json", "Authorization": c.sign("delete", coll, name, tag)}, http.NoBody, 0, true)
	return res.StatusCode, b
}

// search is `sregistry search [query]` (SR §3.3): the request each form
// sends, and the decoded answer.
func (c *cli) search(query string) (int, any) {
	c.t.Helper()
	url := c.base + "/collections/"
	switch {
	case strings.Contains(query, ":"):
		cn, tag, _ := strings.Cut(query, ":")
		coll, name, _ := strings.Cut(cn, "/")
		url = fmt.Sprintf("%s/container/search/collection/%s/name/%s/tag/%s", c.base, coll, name, tag)
	case query != "" && query != "*":
		url = c.base + "/collection/" + strings.TrimSuffix(query, "/")
	}
	res, b := c.get(url, "")
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		c.t.Fatalf("GET %s: %v: %s", url, err, b)
	}
	return res.StatusCode, v
}

// labels is the Python API's _label_search (SR §3.5).
func (c *cli) labels(key, value string) (int, []byte) {
	url := c.base + "/labels/search"
	if key != "" {
		url += "/" + strings.ToLower(key) + "/key"
	}
	if value != "" {
		url += "/" + strings.ToLower(value) + "/value"
	}
	res, b := c.get(url, "")
	return res.StatusCode, b
}
