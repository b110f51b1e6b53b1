package auth

import (
	"context"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/names"
)

// Teams: administrators create them and manage their members; signed-in
// users see them (a collection's owner picks the team to grant pull to,
// which internal/library decides). A team's grants give its members pull,
// never push (seed 003: "Collaborators are not allowed to push").

// TeamInfo is a team with its members.
type TeamInfo struct {
	Team    meta.Team
	Members []meta.User
}

func teamNotFound(name string) error { return apperr.New(apperr.NotFound, "team %s not found", name) }

func checkTeamName(name string) error {
	if !names.Valid(name) || len(name) > 64 {
		return apperr.New(apperr.Invalid, "invalid team name %q: use lowercase letters, digits and . _ - separators", name)
	}
	return nil
}

// Teams lists the teams: signed-in users.
func (s *Service) Teams(ctx context.Context, p Principal) ([]meta.Team, error) {
	if err := RequireUser(p); err != nil {
		return nil, err
	}
	return s.store.ListTeams(ctx)
}

// MyTeams lists the caller's teams.
func (s *Service) MyTeams(ctx context.Context, p Principal) ([]meta.Team, error) {
	if err := RequireUser(p); err != nil {
		return nil, err
	}
	return s.store.ListUserTeams(ctx, p.UserID)
}

// Team returns a team with its members: signed-in users.
func (s *Service) Team(ctx context.Context, p Principal, name string) (TeamInfo, error) {
	var info TeamInfo
	if err := RequireUser(p); err != nil {
		return info, err
	}
	err := meta.View(ctx, s.store, func(st Store) error {
		var err error
		if info.Team, err = st.GetTeamByName(ctx, name); apperr.Is(err, apperr.NotFound) {
			return teamNotFound(name)
		} else if err != nil {
			return err
		}
		info.Members, err = st.ListTeamMembers(ctx, info.Team.ID)
		return err
	})
	return info, err
}

// CreateTeam creates a team: administrators.
func (s *Service) CreateTeam(ctx context.Context, p Principal, name string) (meta.Team, error) {
	if err := RequireAdmin(p); err != nil {
		return meta.Team{}, err
	}
	if err := checkTeamName(name); err != nil {
		return meta.Team{}, err
	}
	t := meta.Team{Name: name}
	err := s.store.CreateTeam(ctx, &t)
	if apperr.Is(err, apperr.Conflict) {
		return t, apperr.Wrap(apperr.Conflict, err, "team %s already exists", name)
	}
	return t, err
}

// DeleteTeam deletes a team, its memberships and its grants:
// administrators. Its members lose the pull it gave them at once.
func (s *Service) DeleteTeam(ctx context.Context, p Principal, name string) error {
	if err := RequireAdmin(p); err != nil {
		return err
	}
	return meta.Tx(ctx, s.store, func(tx Store) error {
		t, err := tx.GetTeamByName(ctx, name)
		if apperr.Is(err, apperr.NotFound) {
			return teamNotFound(name)
		}
		if err != nil {
			return err
		}
		return tx.DeleteTeam(ctx, t.ID)
	})
}

// SetMember adds (in true) or removes a user from a team:
// administrators.
func (s *Service) SetMember(ctx context.Context, p Principal, team, user string, in bool) error {
	if err := RequireAdmin(p); err != nil {
		return err
	}
	return meta.Tx(ctx, s.store, func(tx Store) error {
		t, err := tx.GetTeamByName(ctx, team)
		if apperr.Is(err, apperr.NotFound) {
			return teamNotFound(team)
		}
		if err != nil {
			return err
		}
		u, err := tx.GetUserByName(ctx, user)
		if apperr.Is(err, apperr.NotFound) {
			return apperr.New(apperr.NotFound, "user %s not found", user)
		}
		if err != nil {
			return err
		}
		if in {
			return tx.AddTeamMember(ctx, t.ID, u.ID)
		}
		if err := tx.RemoveTeamMember(ctx, t.ID, u.ID); apperr.Is(err, apperr.NotFound) {
			return apperr.New(apperr.NotFound, "%s is not a member of team %s", user, team)
		} else if err != nil {
			return err
		}
		return nil
	})
}
