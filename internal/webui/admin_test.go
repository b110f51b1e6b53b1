package webui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// Administrators manage accounts in the browser; others are refused.
func TestAdminUsers(t *testing.T) {
	e := newEnv(t)
	root, bob := e.login("root"), e.login("bob")
	want(t, bob.get("/admin/users"), http.StatusForbidden, "only administrators")
	want(t, bob.get("/admin/settings"), http.StatusForbidden)
	bob.get("/")
	want(t, bob.post("/admin/users", formOf("name", "mallory", "role", "admin", "password", "mallory-password")), http.StatusForbidden)

	want(t, root.get("/admin/users"), http.StatusOK, "alice", "bob", "carol", "Create an account")
	p := root.post("/admin/users", formOf("name", "dave", "role", "user", "password", "dave-password"))
	if p.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	want(t, root.post("/admin/users", formOf("name", "dave", "role", "user")), http.StatusConflict, "already exists")
	want(t, root.post("/admin/users", formOf("name", "eve", "role", "user", "password", "short")), http.StatusBadRequest, "8 to 1024")
	dave := e.login("dave")
	want(t, dave.get("/auth/account"), http.StatusOK, "Role: <strong>user</strong>")
	want(t, root.post("/admin/users/dave", formOf("role", "manager")), http.StatusSeeOther)
	want(t, dave.get("/auth/account"), http.StatusOK, "Role: <strong>manager</strong>")
	// A reset password: the old one fails, the new one works, sessions end.
	want(t, root.post("/admin/users/dave", formOf("password", "new-dave-password")), http.StatusSeeOther)
	if p := dave.get("/auth/account"); p.status != http.StatusSeeOther {
		t.Fatalf("session after a reset: %d", p.status)
	}
	b := e.browser()
	b.get("/auth/login")
	want(t, b.post("/auth/login", formOf("name", "dave", "password", "dave-password")), http.StatusUnauthorized)
	want(t, b.post("/auth/login", formOf("name", "dave", "password", "new-dave-password")), http.StatusSeeOther)
	// Disabled: the account's tokens stop at once.
	want(t, root.post("/admin/users/bob", formOf("disabled", "true")), http.StatusSeeOther)
	if st := e.status("GET", "/v1/token-status", e.tokens["bob"]); st != http.StatusUnauthorized {
		t.Fatalf("a disabled account's token: %d", st)
	}
	want(t, root.get("/admin/users"), http.StatusOK, "disabled", "Enable")
	want(t, root.post("/admin/users/bob", formOf("disabled", "false")), http.StatusSeeOther)
	// An administrator keeps their own role and account.
	want(t, root.post("/admin/users/root", formOf("disabled", "true")), http.StatusForbidden, "your own role")
	want(t, root.post("/admin/users/root", formOf("role", "user")), http.StatusForbidden, "your own role")
	want(t, root.post("/admin/users/nobody", formOf("role", "user")), http.StatusNotFound)
}

// Users change their own password (the current one first).
func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	alice := e.login("alice")
	want(t, alice.get("/auth/account"), http.StatusOK, "Change your password")
	want(t, alice.post("/auth/account/password", formOf("current", "wrong", "new", "alice-new-pw", "repeat", "alice-new-pw")), http.StatusBadRequest, "current password is wrong")
	want(t, alice.post("/auth/account/password", formOf("current", "alice-password", "new", "alice-new-pw", "repeat", "other-pw")), http.StatusBadRequest, "differ")
	p := alice.post("/auth/account/password", formOf("current", "alice-password", "new", "alice-new-pw", "repeat", "alice-new-pw"))
	if p.status != http.StatusSeeOther || p.location != "/auth/login?done=password" {
		t.Fatalf("change: %d %q", p.status, p.location)
	}
	b := e.browser()
	b.get("/auth/login")
	want(t, b.post("/auth/login", formOf("name", "alice", "password", "alice-new-pw")), http.StatusSeeOther)
}

// Teams: administrators create them and manage members; everyone signed
// in sees them; deleting one takes its grants with it.
func TestTeams(t *testing.T) {
	e := newEnv(t)
	root, bob := e.login("root"), e.login("bob")
	want(t, e.browser().get("/teams"), http.StatusSeeOther)
	want(t, bob.get("/teams"), http.StatusOK, "No teams yet.")
	lacks(t, bob.get("/teams"), "Create a team")
	bob.get("/teams")
	want(t, bob.post("/teams", formOf("name", "bobs")), http.StatusForbidden)
	root.get("/teams")
	p := root.post("/teams", formOf("name", "imaging"))
	if p.status != http.StatusSeeOther || p.location != "/teams/imaging?done=created" {
		t.Fatalf("create team: %d %q", p.status, p.location)
	}
	want(t, root.post("/teams", formOf("name", "imaging")), http.StatusConflict)
	want(t, root.post("/teams", formOf("name", "Bad Team")), http.StatusBadRequest)
	want(t, root.post("/teams/imaging/members", formOf("user", "carol")), http.StatusSeeOther)
	want(t, root.post("/teams/imaging/members", formOf("user", "nobody")), http.StatusNotFound)
	want(t, bob.get("/teams/imaging"), http.StatusOK, "carol")
	lacks(t, bob.get("/teams/imaging"), "Remove", "Delete team")
	want(t, e.login("carol").get("/auth/account"), http.StatusOK, "/teams/imaging")
	want(t, root.post("/teams/imaging/members", formOf("user", "carol", "action", "remove")), http.StatusSeeOther)
	lacks(t, root.get("/teams/imaging"), ">carol<")
	// Deleting a team ends its grants.
	want(t, root.post("/teams/imaging/members", formOf("user", "carol")), http.StatusSeeOther)
	e.mustPush("alice", smallSIF(t, "x"), "alice/lab/app", "latest")
	alice := e.login("alice")
	colID := e.id("alice", "/v1/collections/alice/lab")
	alice.get("/library/alice/lab")
	want(t, alice.post("/library/alice/lab/-/privacy", formOf("id", colID, "private", "true")), http.StatusSeeOther)
	want(t, alice.post("/library/alice/lab/-/grants", formOf("id", colID, "team", "imaging")), http.StatusSeeOther)
	want(t, alice.post("/library/alice/lab/-/grants", formOf("id", colID, "team", "nosuch")), http.StatusNotFound, "team nosuch not found")
	want(t, alice.get("/library/alice/lab"), http.StatusOK, "/teams/imaging", "Revoke")
	carol := e.login("carol")
	want(t, carol.get("/library/alice/lab/app"), http.StatusOK)
	want(t, alice.post("/library/alice/lab/-/grants", formOf("id", colID, "team", "imaging", "action", "revoke")), http.StatusSeeOther)
	want(t, carol.get("/library/alice/lab/app"), http.StatusNotFound)
	want(t, alice.post("/library/alice/lab/-/grants", formOf("id", colID, "team", "imaging")), http.StatusSeeOther)
	want(t, carol.get("/library/alice/lab/app"), http.StatusOK)
	want(t, root.get("/teams/imaging/delete"), http.StatusOK, "Delete the team imaging?")
	want(t, root.post("/teams/imaging/delete", nil), http.StatusSeeOther)
	want(t, e.login("carol").get("/library/alice/lab/app"), http.StatusNotFound)
	lacks(t, alice.get("/library/alice/lab"), "/teams/imaging")
}

// Settings change live: user_collections and default_private apply to
// the next push.
func TestSettings(t *testing.T) {
	e := newEnv(t)
	root := e.login("root")
	want(t, root.get("/admin/settings"), http.StatusOK, `id="uc-yes" type="radio" name="user_collections" value="true" checked`)
	want(t, root.post("/admin/settings", formOf("user_collections", "false", "default_private", "true")), http.StatusSeeOther)
	want(t, root.get("/admin/settings?done=settings"), http.StatusOK, "in force", `value="false" checked`)
	err := e.push("bob", smallSIF(t, "b"), "bob/first/app", "latest")
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("push with user collections off: %v", err)
	}
	want(t, root.post("/admin/settings", formOf("user_collections", "true", "default_private", "true")), http.StatusSeeOther)
	e.mustPush("bob", smallSIF(t, "b"), "bob/first/app", "latest")
	if _, err := e.libClient("alice").GetImage(context.Background(), "amd64", "bob/first/app:latest"); err == nil {
		t.Fatal("a collection made with default_private on is public")
	}
	want(t, e.login("bob").get("/library/bob/first"), http.StatusOK, "private")
}
