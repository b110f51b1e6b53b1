package accountapi

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/settings"
)

type teamJSON struct {
	Name      string   `json:"name"`
	CreatedAt stamp    `json:"createdAt"`
	Members   []string `json:"members,omitempty"`
}

func teamView(t meta.Team) teamJSON { return teamJSON{Name: t.Name, CreatedAt: stamp(t.CreatedAt)} }

func teamsView(ts []meta.Team) []teamJSON {
	out := []teamJSON{}
	for _, t := range ts {
		out = append(out, teamView(t))
	}
	return out
}

// listTeams is GET /v1/teams: signed-in users.
func (a *API) listTeams(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	ts, err := a.auth.Teams(r.Context(), p)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, teamsView(ts))
	return nil
}

// createTeam is POST /v1/teams {"name"}: administrators.
func (a *API) createTeam(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Name string `json:"name"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	t, err := a.auth.CreateTeam(r.Context(), p, body.Name)
	if err != nil {
		return err
	}
	v := teamView(t)
	v.Members = []string{}
	writeData(w, http.StatusCreated, v)
	return nil
}

// getTeam is GET /v1/teams/{name}: the team with its members.
func (a *API) getTeam(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	info, err := a.auth.Team(r.Context(), p, r.PathValue("name"))
	if err != nil {
		return err
	}
	v := teamView(info.Team)
	v.Members = []string{}
	for _, u := range info.Members {
		v.Members = append(v.Members, u.Name)
	}
	writeData(w, http.StatusOK, v)
	return nil
}

// deleteTeam is DELETE /v1/teams/{name}: administrators.
func (a *API) deleteTeam(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	if err := a.auth.DeleteTeam(r.Context(), p, r.PathValue("name")); err != nil {
		return err
	}
	writeData(w, http.StatusOK, struct{}{})
	return nil
}

// addMember is PUT /v1/teams/{name}/members/{user}: administrators.
func (a *API) addMember(w http.ResponseWriter, r *http.Request) error { return a.setMember(w, r, true) }

// removeMember is DELETE /v1/teams/{name}/members/{user}.
func (a *API) removeMember(w http.ResponseWriter, r *http.Request) error {
	return a.setMember(w, r, false)
}

func (a *API) setMember(w http.ResponseWriter, r *http.Request, in bool) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	if err := a.auth.SetMember(r.Context(), p, r.PathValue("name"), r.PathValue("user"), in); err != nil {
		return err
	}
	writeData(w, http.StatusOK, struct{}{})
	return nil
}

// listGrants is GET /v1/grants/{collection}: the teams granted pull on a
// collection (by id), for its owner and administrators.
func (a *API) listGrants(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	ts, err := a.lib.CollectionTeams(r.Context(), p, r.PathValue("collection"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, teamsView(ts))
	return nil
}

// grant is PUT /v1/grants/{collection}/{team}: the team's members may
// pull the collection (never push).
func (a *API) grant(w http.ResponseWriter, r *http.Request) error { return a.setGrant(w, r, true) }

// revokeGrant is DELETE /v1/grants/{collection}/{team}.
func (a *API) revokeGrant(w http.ResponseWriter, r *http.Request) error {
	return a.setGrant(w, r, false)
}

func (a *API) setGrant(w http.ResponseWriter, r *http.Request, grant bool) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	if err := a.lib.SetGrant(r.Context(), p, r.PathValue("collection"), r.PathValue("team"), grant); err != nil {
		return err
	}
	writeData(w, http.StatusOK, struct{}{})
	return nil
}

type settingsJSON struct {
	UserCollections bool `json:"userCollections"`
	DefaultPrivate  bool `json:"defaultPrivate"`
}

func settingsView(p access.Policy) settingsJSON {
	return settingsJSON{UserCollections: p.UserCollections, DefaultPrivate: p.DefaultPrivate}
}

// getSettings is GET /v1/settings: signed-in users.
func (a *API) getSettings(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	pol, err := a.settings.Get(r.Context(), p)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, settingsView(pol))
	return nil
}

// updateSettings is PATCH /v1/settings {"userCollections",
// "defaultPrivate"} (each optional): administrators; effective at once.
func (a *API) updateSettings(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		UserCollections *bool `json:"userCollections"`
		DefaultPrivate  *bool `json:"defaultPrivate"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	pol, err := a.settings.Update(r.Context(), p, settings.Change{UserCollections: body.UserCollections, DefaultPrivate: body.DefaultPrivate})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, settingsView(pol))
	return nil
}
