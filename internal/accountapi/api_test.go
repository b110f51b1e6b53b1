package accountapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/pgtest"
	"github.com/silo-hpc/silo/internal/servertest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type env struct {
	t      *testing.T
	srv    *servertest.Server
	tokens map[string]string
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, srv: servertest.Start(t), tokens: map[string]string{}}
	for name, role := range map[string]meta.Role{"alice": meta.RoleUser, "bob": meta.RoleUser, "root": meta.RoleAdmin} {
		_, e.tokens[name] = e.srv.User(t, name, role)
	}
	return e
}

// call sends a JSON request as user ("" anonymous) and returns the status
// and the decoded body.
func (e *env) call(user, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if tok := e.tokens[user]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	} else if user != "" {
		req.Header.Set("Authorization", "Bearer "+user) // a raw token
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatalf("%s %s: not JSON: %s", method, path, b)
	}
	if res.StatusCode >= 400 {
		er, _ := out["error"].(map[string]any)
		if er == nil || int(er["code"].(float64)) != res.StatusCode || er["message"] == "" {
			e.t.Fatalf("%s %s: %d without the error envelope: %s", method, path, res.StatusCode, b)
		}
	}
	return res.StatusCode, out
}

func (e *env) want(user, method, path, body string, status int) map[string]any {
	e.t.Helper()
	st, out := e.call(user, method, path, body)
	if st != status {
		e.t.Fatalf("%s %s as %q: %d, want %d: %v", method, path, user, st, status, out)
	}
	return out
}

func data(out map[string]any) map[string]any { d, _ := out["data"].(map[string]any); return d }

func list(out map[string]any) []any { l, _ := out["data"].([]any); return l }

// Every endpoint refuses anonymous callers and bad tokens, and the
// administrators' ones refuse ordinary users.
func TestAuthorization(t *testing.T) {
	e := newEnv(t)
	for _, r := range []struct {
		method, path, body string
		adminOnly          bool
	}{
		{"GET", "/v1/tokens", "", false}, {"POST", "/v1/tokens", `{"label":"x"}`, false}, {"DELETE", "/v1/tokens/x", "", false},
		{"POST", "/v1/account/password", `{"current":"a","new":"bbbbbbbb"}`, false},
		{"GET", "/v1/users", "", true}, {"POST", "/v1/users", `{"name":"eve"}`, true}, {"GET", "/v1/users/alice", "", false},
		{"PATCH", "/v1/users/alice", `{"disabled":true}`, true},
		{"GET", "/v1/teams", "", false}, {"POST", "/v1/teams", `{"name":"t"}`, true}, {"GET", "/v1/teams/t", "", false},
		{"DELETE", "/v1/teams/t", "", true}, {"PUT", "/v1/teams/t/members/bob", "", true}, {"DELETE", "/v1/teams/t/members/bob", "", true},
		{"GET", "/v1/grants/x", "", false}, {"PUT", "/v1/grants/x/t", "", false}, {"DELETE", "/v1/grants/x/t", "", false},
		{"GET", "/v1/settings", "", false}, {"PATCH", "/v1/settings", `{"defaultPrivate":true}`, true},
	} {
		if st, _ := e.call("", r.method, r.path, r.body); st != http.StatusUnauthorized {
			t.Errorf("%s %s anonymous: %d", r.method, r.path, st)
		}
		if st, _ := e.call("silo_not-a-token", r.method, r.path, r.body); st != http.StatusUnauthorized {
			t.Errorf("%s %s with a bad token: %d", r.method, r.path, st)
		}
		if r.adminOnly {
			if st, _ := e.call("bob", r.method, r.path, r.body); st != http.StatusForbidden {
				t.Errorf("%s %s as a user: %d", r.method, r.path, st)
			}
		}
	}
	// Nothing changed.
	if st, out := e.call("root", "GET", "/v1/settings", ""); st != http.StatusOK || data(out)["defaultPrivate"] != false {
		t.Fatalf("settings: %v", out)
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	out := e.want("alice", "POST", "/v1/tokens", `{"label":"ci","expiresInDays":7}`, http.StatusCreated)
	tok := data(out)
	secret, _ := tok["token"].(string)
	if len(secret) < 200 || tok["label"] != "ci" || tok["expiresAt"] == nil || tok["lastUsedAt"] != nil {
		t.Fatalf("created %v", tok)
	}
	e.want(secret, "GET", "/v1/tokens", "", http.StatusOK) // the new token works, and is now used
	ts := list(e.want("alice", "GET", "/v1/tokens", "", http.StatusOK))
	if len(ts) != 2 || ts[0].(map[string]any)["label"] != "ci" || ts[0].(map[string]any)["token"] != nil || ts[0].(map[string]any)["lastUsedAt"] == nil {
		t.Fatalf("list %v", ts)
	}
	id := tok["id"].(string)
	e.want("bob", "DELETE", "/v1/tokens/"+id, "", http.StatusNotFound)
	e.want("alice", "DELETE", "/v1/tokens/"+id, "", http.StatusOK)
	e.want(secret, "GET", "/v1/tokens", "", http.StatusUnauthorized)
	e.want("alice", "POST", "/v1/tokens", `{"label":"x","expiresInDays":-1}`, http.StatusBadRequest)
	e.want("alice", "POST", "/v1/tokens", `{"label":"x","expires":3}`, http.StatusBadRequest) // unknown field
	e.want("alice", "POST", "/v1/tokens", ``, http.StatusBadRequest)
	// Administrators may revoke anyone's.
	other := data(e.want("bob", "POST", "/v1/tokens", `{}`, http.StatusCreated))
	e.want("root", "DELETE", "/v1/tokens/"+other["id"].(string), "", http.StatusOK)
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	u := data(e.want("root", "POST", "/v1/users", `{"name":"dave","role":"manager","password":"dave-password"}`, http.StatusCreated))
	if u["name"] != "dave" || u["role"] != "manager" || u["hasPassword"] != true || u["disabled"] != false {
		t.Fatalf("created %v", u)
	}
	e.want("root", "POST", "/v1/users", `{"name":"dave"}`, http.StatusConflict)
	e.want("root", "POST", "/v1/users", `{"name":"Dave"}`, http.StatusBadRequest)
	e.want("root", "POST", "/v1/users", `{"name":"x","role":"god"}`, http.StatusBadRequest)
	if us := list(e.want("root", "GET", "/v1/users", "", http.StatusOK)); len(us) != 4 {
		t.Fatalf("users %v", us)
	}
	e.want("alice", "GET", "/v1/users/alice", "", http.StatusOK)
	e.want("alice", "GET", "/v1/users/bob", "", http.StatusForbidden)
	e.want("root", "GET", "/v1/users/nobody", "", http.StatusNotFound)
	u = data(e.want("root", "PATCH", "/v1/users/bob", `{"role":"manager","disabled":true}`, http.StatusOK))
	if u["role"] != "manager" || u["disabled"] != true {
		t.Fatalf("patched %v", u)
	}
	e.want("bob", "GET", "/v1/tokens", "", http.StatusUnauthorized) // disabled: the token stops at once
	e.want("root", "PATCH", "/v1/users/bob", `{"disabled":false}`, http.StatusOK)
	e.want("bob", "GET", "/v1/tokens", "", http.StatusOK)
	e.want("root", "PATCH", "/v1/users/root", `{"role":"user"}`, http.StatusForbidden)
	e.want("root", "PATCH", "/v1/users/bob", `{"password":"short"}`, http.StatusBadRequest)
	e.want("alice", "POST", "/v1/account/password", `{"current":"wrong","new":"alice-new-password"}`, http.StatusBadRequest)
	e.want("alice", "POST", "/v1/account/password", `{"current":"alice-password","new":"alice-new-password"}`, http.StatusOK)
}

func TestTeamsGrantsSettings(t *testing.T) {
	e := newEnv(t)
	team := data(e.want("root", "POST", "/v1/teams", `{"name":"lab"}`, http.StatusCreated))
	if team["name"] != "lab" {
		t.Fatalf("team %v", team)
	}
	e.want("root", "PUT", "/v1/teams/lab/members/bob", "", http.StatusOK)
	e.want("root", "PUT", "/v1/teams/lab/members/bob", "", http.StatusOK) // idempotent
	e.want("root", "PUT", "/v1/teams/lab/members/nobody", "", http.StatusNotFound)
	got := data(e.want("alice", "GET", "/v1/teams/lab", "", http.StatusOK))
	if ms, _ := got["members"].([]any); len(ms) != 1 || ms[0] != "bob" {
		t.Fatalf("team %v", got)
	}
	if ts := list(e.want("bob", "GET", "/v1/teams", "", http.StatusOK)); len(ts) != 1 {
		t.Fatalf("teams %v", ts)
	}
	// alice's collection, private, granted to lab: bob reads it.
	e.want("alice", "GET", "/v1/entities/alice", "", http.StatusOK)
	ent := data(e.want("alice", "GET", "/v1/entities/alice", "", http.StatusOK))
	col := data(e.want("alice", "POST", "/v1/collections", `{"entity":"`+ent["id"].(string)+`","name":"vault","private":true}`, http.StatusOK))
	cid := col["id"].(string)
	e.want("bob", "GET", "/v1/collections/alice/vault", "", http.StatusNotFound)
	e.want("bob", "PUT", "/v1/grants/"+cid+"/lab", "", http.StatusNotFound) // bob cannot see it
	e.want("alice", "PUT", "/v1/grants/"+cid+"/nosuch", "", http.StatusNotFound)
	e.want("alice", "PUT", "/v1/grants/"+cid+"/lab", "", http.StatusOK)
	e.want("bob", "GET", "/v1/collections/alice/vault", "", http.StatusOK)
	e.want("bob", "GET", "/v1/grants/"+cid, "", http.StatusForbidden) // he sees it, may not manage it
	if gs := list(e.want("alice", "GET", "/v1/grants/"+cid, "", http.StatusOK)); len(gs) != 1 {
		t.Fatalf("grants %v", gs)
	}
	e.want("alice", "DELETE", "/v1/grants/"+cid+"/lab", "", http.StatusOK)
	e.want("alice", "DELETE", "/v1/grants/"+cid+"/lab", "", http.StatusNotFound)
	e.want("bob", "GET", "/v1/collections/alice/vault", "", http.StatusNotFound)
	e.want("alice", "PUT", "/v1/grants/"+cid+"/lab", "", http.StatusOK)
	e.want("root", "DELETE", "/v1/teams/lab/members/bob", "", http.StatusOK)
	e.want("bob", "GET", "/v1/collections/alice/vault", "", http.StatusNotFound)
	e.want("root", "DELETE", "/v1/teams/lab", "", http.StatusOK)
	e.want("root", "DELETE", "/v1/teams/lab", "", http.StatusNotFound)

	s := data(e.want("root", "PATCH", "/v1/settings", `{"defaultPrivate":true}`, http.StatusOK))
	if s["defaultPrivate"] != true || s["userCollections"] != true {
		t.Fatalf("settings %v", s)
	}
	col = data(e.want("bob", "POST", "/v1/collections", `{"entity":"`+data(e.want("bob", "GET", "/v1/entities/bob", "", http.StatusOK))["id"].(string)+`","name":"fresh"}`, http.StatusOK))
	if col["private"] != true {
		t.Fatalf("collection made under default_private: %v", col)
	}
	e.want("root", "PATCH", "/v1/settings", `{"userCollections":false}`, http.StatusOK)
	e.want("bob", "POST", "/v1/collections", `{"entity":"`+data(e.want("bob", "GET", "/v1/entities/bob", "", http.StatusOK))["id"].(string)+`","name":"another"}`, http.StatusForbidden)
	if s := data(e.want("bob", "GET", "/v1/settings", "", http.StatusOK)); s["defaultPrivate"] != true || s["userCollections"] != false {
		t.Fatalf("settings %v", s)
	}
}

// The grant routes answer a stranger asking about a private collection
// exactly as about a missing one (the id aside).
func TestGrantsPrivateLooksMissing(t *testing.T) {
	e := newEnv(t)
	e.want("root", "POST", "/v1/teams", `{"name":"lab"}`, http.StatusCreated)
	ent := data(e.want("alice", "GET", "/v1/entities/alice", "", http.StatusOK))
	col := data(e.want("alice", "POST", "/v1/collections", `{"entity":"`+ent["id"].(string)+`","name":"vault","private":true}`, http.StatusOK))
	private, missing := col["id"].(string), strings.Repeat("0a", 12)
	for _, rt := range [][2]string{{"GET", "/v1/grants/ID"}, {"PUT", "/v1/grants/ID/lab"}, {"DELETE", "/v1/grants/ID/lab"}} {
		pst, pout := e.call("bob", rt[0], strings.Replace(rt[1], "ID", private, 1), "")
		mst, mout := e.call("bob", rt[0], strings.Replace(rt[1], "ID", missing, 1), "")
		pb, _ := json.Marshal(pout)
		mb, _ := json.Marshal(mout)
		p, m := strings.ReplaceAll(string(pb), private, "ID"), strings.ReplaceAll(string(mb), missing, "ID")
		if pst != mst || p != m || pst < 400 {
			t.Errorf("%s %s: private %d %s, missing %d %s", rt[0], rt[1], pst, p, mst, m)
		}
	}
}
