package webui

import (
	"net/http"
	"strings"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/settings"
)

// Accounts, teams and settings. The services decide who may (auth,
// settings): a page an ordinary user may not see is refused there, not
// here.
func (u *UI) adminRoutes() {
	u.handle("GET /admin/users", u.usersPage)
	u.handle("POST /admin/users", u.createUser)
	u.handle("POST /admin/users/{name}", u.updateUser)
	u.handle("GET /admin/settings", u.settingsPage)
	u.handle("POST /admin/settings", u.updateSettings)
	u.handle("GET /teams", u.teamsPage)
	u.handle("POST /teams", u.createTeam)
	u.handle("GET /teams/{name}", u.teamPage)
	u.handle("POST /teams/{name}/members", u.setMember)
	u.handle("GET /teams/{name}/delete", u.confirmDeleteTeam)
	u.handle("POST /teams/{name}/delete", u.deleteTeam)
}

type usersPage struct {
	Users []meta.User
	Roles []meta.Role
}

var roles = []meta.Role{meta.RoleUser, meta.RoleManager, meta.RoleAdmin}

func (u *UI) usersPage(w http.ResponseWriter, r *http.Request, c *call) error {
	us, err := u.auth.Users(r.Context(), c.p)
	if err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "users", usersPage{Users: us, Roles: roles})
}

func (u *UI) createUser(w http.ResponseWriter, r *http.Request, c *call) error {
	f := r.PostForm
	if _, err := u.auth.AddUser(r.Context(), c.p, strings.TrimSpace(f.Get("name")), meta.Role(f.Get("role")), f.Get("password")); err != nil {
		return err
	}
	return done(w, r, "/admin/users", "created")
}

// updateUser applies one of the row's forms: role, enabled, or a new
// password (each form sends only its field).
func (u *UI) updateUser(w http.ResponseWriter, r *http.Request, c *call) error {
	f := r.PostForm
	var ch auth.UserChange
	if f.Has("role") {
		role := meta.Role(f.Get("role"))
		ch.Role = &role
	}
	if f.Has("disabled") {
		disabled := f.Get("disabled") == "true"
		ch.Disabled = &disabled
	}
	if f.Has("password") {
		pw := f.Get("password")
		if err := invalidIf(pw == "", "type the new password"); err != nil {
			return err
		}
		ch.Password = &pw
	}
	if _, err := u.auth.ChangeUser(r.Context(), c.p, r.PathValue("name"), ch); err != nil {
		return err
	}
	return done(w, r, "/admin/users", "user")
}

type settingsPage struct {
	Policy access.Policy
}

func (u *UI) settingsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := auth.RequireAdmin(c.p); err != nil {
		return err
	}
	pol, err := u.settings.Get(r.Context(), c.p)
	if err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "settings", settingsPage{Policy: pol})
}

func (u *UI) updateSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	uc, dp := r.PostForm.Get("user_collections") == "true", r.PostForm.Get("default_private") == "true"
	if _, err := u.settings.Update(r.Context(), c.p, settings.Change{UserCollections: &uc, DefaultPrivate: &dp}); err != nil {
		return err
	}
	return done(w, r, "/admin/settings", "settings")
}

type teamsPage struct {
	Teams []meta.Team
}

func (u *UI) teamsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	ts, err := u.auth.Teams(r.Context(), c.p)
	if err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "teams", teamsPage{Teams: ts})
}

func (u *UI) createTeam(w http.ResponseWriter, r *http.Request, c *call) error {
	t, err := u.auth.CreateTeam(r.Context(), c.p, strings.TrimSpace(r.PostForm.Get("name")))
	if err != nil {
		return err
	}
	return done(w, r, "/teams/"+t.Name, "created")
}

func (u *UI) teamPage(w http.ResponseWriter, r *http.Request, c *call) error {
	info, err := u.auth.Team(r.Context(), c.p, r.PathValue("name"))
	if err != nil {
		return err
	}
	return u.render(w, r, c, http.StatusOK, "team", info)
}

func (u *UI) setMember(w http.ResponseWriter, r *http.Request, c *call) error {
	f := r.PostForm
	name := r.PathValue("name")
	if err := u.auth.SetMember(r.Context(), c.p, name, strings.TrimSpace(f.Get("user")), f.Get("action") != "remove"); err != nil {
		return err
	}
	return done(w, r, "/teams/"+name, "member")
}

func (u *UI) confirmDeleteTeam(w http.ResponseWriter, r *http.Request, c *call) error {
	info, err := u.auth.Team(r.Context(), c.p, r.PathValue("name"))
	if err != nil {
		return err
	}
	if err := auth.RequireAdmin(c.p); err != nil {
		return err
	}
	back := "/teams/" + info.Team.Name
	return u.render(w, r, c, http.StatusOK, "confirm", confirmPage{
		Title: "Delete team", What: "the team " + info.Team.Name,
		Detail: "Its members lose the access its grants gave them, at once.",
		Action: back + "/delete", Back: back})
}

func (u *UI) deleteTeam(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := u.auth.DeleteTeam(r.Context(), c.p, r.PathValue("name")); err != nil {
		return err
	}
	return done(w, r, "/teams", "deleted")
}
