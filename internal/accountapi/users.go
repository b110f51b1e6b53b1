package accountapi

import (
	"net/http"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

type userJSON struct {
	Name      string `json:"name"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	Disabled  bool   `json:"disabled"`
	Password  bool   `json:"hasPassword"`
	CreatedAt stamp  `json:"createdAt"`
}

func userView(u meta.User) userJSON {
	return userJSON{Name: u.Name, Email: u.Email, Role: string(u.Role), Disabled: u.Disabled,
		Password: u.PasswordHash != "", CreatedAt: stamp(u.CreatedAt)}
}

// listUsers is GET /v1/users: administrators.
func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	us, err := a.auth.Users(r.Context(), p)
	if err != nil {
		return err
	}
	out := []userJSON{}
	for _, u := range us {
		out = append(out, userView(u))
	}
	writeData(w, http.StatusOK, out)
	return nil
}

// createUser is POST /v1/users {"name", "role", "password"}:
// administrators.
func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Name     string    `json:"name"`
		Role     meta.Role `json:"role"`
		Password string    `json:"password"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if body.Role == "" {
		body.Role = meta.RoleUser
	}
	u, err := a.auth.AddUser(r.Context(), p, body.Name, body.Role, body.Password)
	if err != nil {
		return err
	}
	writeData(w, http.StatusCreated, userView(u))
	return nil
}

// getUser is GET /v1/users/{name}: the user and administrators.
func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	u, err := a.auth.User(r.Context(), p, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, userView(u))
	return nil
}

// updateUser is PATCH /v1/users/{name} {"role", "disabled", "password"}
// (each optional): administrators.
func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	p, err := a.principal(r)
	if err != nil {
		return err
	}
	var body struct {
		Role     *meta.Role `json:"role"`
		Disabled *bool      `json:"disabled"`
		Password *string    `json:"password"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	u, err := a.auth.ChangeUser(r.Context(), p, r.PathValue("name"),
		auth.UserChange{Role: body.Role, Disabled: body.Disabled, Password: body.Password})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, userView(u))
	return nil
}
