package bearer

import (
	"context"
	"strings"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/oci"
)

// Caller is who a registry request acts as and, for bearer tokens, what
// the token grants. A token never widens what the principal may do; it
// narrows it.
type Caller struct {
	auth.Principal
	// Token is set when the request carried a registry bearer token; Grants
	// then limit the request. Basic credentials and API tokens act with all
	// the principal's rights.
	Token  bool
	Grants []oci.Scope
}

// Allows reports whether the caller's token (if any) covers action on the
// resource typ:name.
func (c Caller) Allows(typ, name, action string) bool {
	if !c.Token {
		return true
	}
	for _, g := range c.Grants {
		if g.Type == typ && g.Name == name && g.Has(action) {
			return true
		}
	}
	return false
}

// Credentials are what a registry request presented.
type Credentials struct {
	Basic              bool
	Username, Password string
	Bearer             string
}

// Authenticate turns a request's credentials into a Caller. No
// credentials, and Basic with an empty user and password (what resty and
// the conformance suite send), are anonymous. A Bearer value that is not a
// registry token is tried as an API token, so `silo` and scripts can use
// their API token directly.
func (s *Service) Authenticate(ctx context.Context, cr Credentials) (Caller, error) {
	switch {
	case cr.Bearer != "" && strings.Count(cr.Bearer, ".") == 2:
		c, err := s.parse(cr.Bearer, kindAccess)
		if err != nil {
			// Not ours: perhaps an API token that happens to look like a JWT.
			if p, terr := s.auth.CheckToken(ctx, cr.Bearer); terr == nil {
				return Caller{Principal: p}, nil
			}
			return Caller{}, err
		}
		p, err := s.principal(ctx, c)
		if err != nil {
			return Caller{}, err
		}
		caller := Caller{Principal: p, Token: true}
		for _, a := range c.Access {
			caller.Grants = append(caller.Grants, oci.Scope{Type: a.Type, Name: a.Name, Actions: a.Actions})
		}
		return caller, nil
	case cr.Bearer != "":
		p, err := s.auth.CheckToken(ctx, cr.Bearer)
		return Caller{Principal: p}, err
	case cr.Basic && (cr.Username != "" || cr.Password != ""):
		p, err := s.auth.CheckPassword(ctx, cr.Username, cr.Password)
		return Caller{Principal: p}, err
	}
	return Caller{}, nil
}
