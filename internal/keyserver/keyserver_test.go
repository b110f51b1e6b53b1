package keyserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/sylabs/scs-key-client/client"

	"github.com/silo-hpc/silo/internal/keyserver/keyservertest"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgtest"
	"github.com/silo-hpc/silo/internal/servertest"
)

// TestMain stops the PostgreSQL cluster that SILO_TEST_POSTGRES=1 starts.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type env struct {
	t      *testing.T
	srv    *servertest.Server
	tokens map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, srv: servertest.Start(t), tokens: map[string]string{}}
	for _, u := range []struct {
		name string
		role meta.Role
	}{{"alice", meta.RoleUser}, {"bob", meta.RoleUser}, {"root", meta.RoleAdmin}} {
		_, e.tokens[u.name] = e.srv.User(t, u.name, u.role)
	}
	return e
}

func (e *env) client(user string) *client.Client {
	return keyservertest.Client(e.t, e.srv.URL, e.tokens[user])
}

// httpCode is the status of a scs-key-client error (0 for none).
func httpCode(err error) int {
	var he *client.HTTPError
	if errors.As(err, &he) {
		return he.Code()
	}
	return 0
}

// search is `singularity key search TERM` (sypgp.SearchPubkey): the term
// gets "0x" when it is 8 or more upper-case hex digits; the answer must
// pass formatMROutput's checks, which this replays.
func (e *env) search(user, term string) ([]mrKey, error) {
	if isFingerprintTerm(term) {
		term = "0x" + term
	}
	pd := client.PageDetails{Size: 256}
	text, err := e.client(user).PKSLookup(context.Background(), &pd, term, client.OperationIndex, true, false,
		[]string{client.OptionMachineReadable})
	if err != nil {
		return nil, err
	}
	return parseMR(e.t, text), nil
}

func isFingerprintTerm(s string) bool {
	if len(s) < 8 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789ABCDEF", c) {
			return false
		}
	}
	return true
}

// mrKey is one key of a machine-readable index.
type mrKey struct {
	fields []string // the pub line's
	uids   []string // unescaped as the client does (url.QueryUnescape)
}

// parseMR reads HKP's machine-readable index as Singularity's
// formatMROutput does, failing where it would fail or panic: an info
// count other than the number of pub lines, a pub line of fewer than
// seven fields, a fingerprint shorter than eight characters.
func parseMR(t *testing.T, text string) []mrKey {
	t.Helper()
	var keys []mrKey
	count := -1
	for _, l := range strings.Split(text, "\n") {
		fields := strings.Split(strings.TrimSpace(l), ":")
		switch fields[0] {
		case "info":
			if len(fields) < 3 {
				t.Fatalf("info line %q", l)
			}
			fmt.Sscan(fields[2], &count)
		case "pub":
			if len(fields) < 7 || len(fields[1]) < 8 {
				t.Fatalf("pub line %q would crash the client", l)
			}
			keys = append(keys, mrKey{fields: fields})
		case "uid":
			name, err := url.QueryUnescape(fields[1])
			if err != nil {
				t.Fatalf("uid %q: %v", l, err)
			}
			keys[len(keys)-1].uids = append(keys[len(keys)-1].uids, name)
		}
	}
	if count != len(keys) {
		t.Fatalf("info says %d keys, %d pub lines: %q", count, len(keys), text)
	}
	return keys
}

// pull is `singularity key pull FINGERPRINT` (sypgp.FetchPubkey): GetKey
// with the decoded bytes, exactly one key in the answer.
func (e *env) pull(user string, id []byte) (*openpgp.Entity, error) {
	text, err := e.client(user).GetKey(context.Background(), id)
	if err != nil {
		return nil, err
	}
	el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	if len(el) != 1 {
		return nil, fmt.Errorf("server returned %d keys for a unique fingerprint", len(el))
	}
	return el[0], nil
}

// verifyLookup is the lookup `singularity verify` makes for a
// signature's key ID (sypgp hybridKeyRing.remoteEntitiesByID): %#x of
// the uint64, which drops leading zeros.
func (e *env) verifyLookup(user string, id uint64) (openpgp.EntityList, error) {
	text, err := e.client(user).PKSLookup(context.Background(), nil, fmt.Sprintf("%#x", id), client.OperationGet, false, true, nil)
	if err != nil {
		return nil, err
	}
	return openpgp.ReadArmoredKeyRing(strings.NewReader(text))
}

func fpHex(e *openpgp.Entity) string { return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) }

func TestPushSearchPull(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := keyservertest.NewEntity(t, "Alice Liddell", "alice@example.org")
	fp := fpHex(alice)

	// Only a signed-in user adds keys.
	if err := e.client("").PKSAdd(ctx, keyservertest.Armored(t, alice)); httpCode(err) != http.StatusUnauthorized {
		t.Fatalf("anonymous push: %v", err)
	}
	if _, err := e.search("", fp); httpCode(err) != http.StatusNotFound {
		t.Fatalf("search before the push: %v", err)
	}
	keyservertest.Push(t, e.srv.URL, e.tokens["alice"], alice)

	// key search, by fingerprint, 8-digit ID, name and e-mail, signed in
	// or not: one key, as the client prints it.
	for _, term := range []string{fp, fp[32:], "liddell", "alice@example.org"} {
		keys, err := e.search("", term)
		if err != nil {
			t.Fatalf("search %q: %v", term, err)
		}
		if len(keys) != 1 || keys[0].fields[1] != fp || keys[0].fields[2] != "22" || keys[0].fields[3] == "" ||
			keys[0].fields[6] != "" || len(keys[0].uids) != 1 || keys[0].uids[0] != "Alice Liddell <alice@example.org>" {
			t.Fatalf("search %q: %+v", term, keys)
		}
	}

	// key pull, by fingerprint and by 32-bit ID.
	for _, id := range [][]byte{alice.PrimaryKey.Fingerprint, alice.PrimaryKey.Fingerprint[16:]} {
		got, err := e.pull("bob", id)
		if err != nil {
			t.Fatalf("pull %x: %v", id, err)
		}
		if fpHex(got) != fp || got.PrivateKey != nil {
			t.Fatalf("pulled %s", fpHex(got))
		}
	}
	if _, err := e.pull("", []byte{1, 2, 3, 4}); httpCode(err) != http.StatusNotFound {
		t.Fatalf("pull of an unknown key: %v", err)
	}

	// verify's lookup by the signing key's ID, leading zeros dropped.
	el, err := e.verifyLookup("", alice.PrimaryKey.KeyId)
	if err != nil || len(el.KeysById(alice.PrimaryKey.KeyId)) != 1 {
		t.Fatalf("verify's lookup: %v %v", el, err)
	}
	low := lowKeyID(t)
	keyservertest.Push(t, e.srv.URL, e.tokens["bob"], low)
	if id := fmt.Sprintf("%#x", low.PrimaryKey.KeyId); len(id) >= 18 {
		t.Fatalf("key ID %s has no leading zero", id)
	}
	if el, err := e.verifyLookup("", low.PrimaryKey.KeyId); err != nil || len(el) != 1 || fpHex(el[0]) != fpHex(low) {
		t.Fatalf("verify's lookup of %#x: %v %v", low.PrimaryKey.KeyId, el, err)
	}

	// A search matching both lists both, with accurate counts.
	if keys, err := e.search("", "example.org"); err != nil || len(keys) != 2 {
		t.Fatalf("search for both: %v %v", keys, err)
	}
}

// lowKeyID makes keys until one's ID starts with a zero digit, which
// `singularity verify`'s %#x drops (1 in 16).
func lowKeyID(t *testing.T) *openpgp.Entity {
	for range 400 {
		e := keyservertest.NewEntity(t, "Low", "low@example.org")
		if e.PrimaryKey.KeyId>>60 == 0 {
			return e
		}
	}
	t.Fatal("no key with a leading zero in 400")
	return nil
}

// A key belongs to who added it: they alone replace it; they or an admin
// remove it. A revocation, once held, stays.
func TestOwnership(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := keyservertest.NewEntity(t, "Alice", "alice@example.org")
	fp := fpHex(alice)
	keyservertest.Push(t, e.srv.URL, e.tokens["alice"], alice)

	// The same key again, from anyone: nothing changes.
	keyservertest.Push(t, e.srv.URL, e.tokens["bob"], alice)
	// A new copy (another user ID) from bob is refused, from alice taken.
	if err := alice.AddUserId("Alice Work", "", "alice@work.example", nil); err != nil {
		t.Fatal(err)
	}
	err := e.client("bob").PKSAdd(ctx, keyservertest.Armored(t, alice))
	if httpCode(err) != http.StatusForbidden || !strings.Contains(err.Error(), "added by another user") {
		t.Fatalf("bob replacing alice's key: %v", err)
	}
	keyservertest.Push(t, e.srv.URL, e.tokens["alice"], alice)
	if keys, err := e.search("", fp); err != nil || len(keys[0].uids) != 2 {
		t.Fatalf("after alice's replacement: %+v %v", keys, err)
	}

	// Revoked: the index says so; the copy without the revocation cannot
	// come back.
	unrevoked := keyservertest.Armored(t, alice)
	if err := alice.RevokeKey(packet.KeyRetired, "retired", nil); err != nil {
		t.Fatal(err)
	}
	keyservertest.Push(t, e.srv.URL, e.tokens["alice"], alice)
	if keys, err := e.search("", fp); err != nil || keys[0].fields[6] != "r" {
		t.Fatalf("revoked key's index: %+v %v", keys, err)
	}
	if err := e.client("alice").PKSAdd(ctx, unrevoked); httpCode(err) != http.StatusConflict {
		t.Fatalf("dropping a revocation: %v", err)
	}

	// Listing: anyone may list a user's keys; the JSON API.
	var list struct {
		Data []struct {
			Fingerprint, Owner string
			UserIDs            []string
			Revoked            bool
		}
	}
	if st, b := e.do("GET", "/v1/keys?owner=alice", "", nil); st != http.StatusOK || json.Unmarshal(b, &list) != nil ||
		len(list.Data) != 1 || list.Data[0].Fingerprint != fp || list.Data[0].Owner != "alice" || !list.Data[0].Revoked {
		t.Fatalf("list: %d %s", st, b)
	}
	if st, _ := e.do("GET", "/v1/keys", "", nil); st != http.StatusUnauthorized {
		t.Fatalf("anonymous list of own keys: %d", st)
	}

	// Removal: not bob, not anonymous; alice may; an admin removes bob's.
	for _, tc := range []struct {
		user string
		want int
	}{{"", http.StatusUnauthorized}, {"bob", http.StatusForbidden}, {"alice", http.StatusNoContent}, {"alice", http.StatusNotFound}} {
		if st, b := e.do("DELETE", "/v1/keys/"+fp, e.tokens[tc.user], nil); st != tc.want {
			t.Fatalf("DELETE as %q: %d %s, want %d", tc.user, st, b, tc.want)
		}
	}
	bob := keyservertest.NewEntity(t, "Bob", "bob@example.org")
	keyservertest.Push(t, e.srv.URL, e.tokens["bob"], bob)
	if st, b := e.do("DELETE", "/v1/keys/0x"+strings.ToLower(fpHex(bob)), e.tokens["root"], nil); st != http.StatusNoContent {
		t.Fatalf("admin removal: %d %s", st, b)
	}
	if _, err := e.pull("", bob.PrimaryKey.Fingerprint); httpCode(err) != http.StatusNotFound {
		t.Fatalf("pull after removal: %v", err)
	}
}

// do sends a raw request with token ("" for none).
func (e *env) do(method, path, token string, body io.Reader, contentType ...string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range contentType {
		req.Header.Set("Content-Type", c)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}
