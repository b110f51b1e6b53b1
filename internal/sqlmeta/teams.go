package sqlmeta

import (
	"context"

	"github.com/silo-hpc/silo/internal/meta"
)

func scanTeam(r scanner) (meta.Team, error) {
	var t meta.Team
	var created int64
	err := r.Scan(&t.ID, &t.Name, &created)
	t.CreatedAt = fromDB(created)
	return t, err
}

func (s *Store) CreateTeam(ctx context.Context, t *meta.Team) error {
	if t.ID == "" {
		t.ID = newID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	_, err := s.exec(ctx, "team "+t.Name, `INSERT INTO teams (id, name, created_at) VALUES (?, ?, ?)`, t.ID, t.Name, toDB(t.CreatedAt))
	return err
}

func (s *Store) GetTeamByName(ctx context.Context, name string) (meta.Team, error) {
	t, err := scanTeam(s.queryRow(ctx, `SELECT id, name, created_at FROM teams WHERE name = ?`, name))
	return t, mapErr(err, "team "+name)
}

func (s *Store) ListTeams(ctx context.Context) ([]meta.Team, error) {
	return queryAll(ctx, s, "teams", scanTeam, `SELECT id, name, created_at FROM teams ORDER BY name`)
}

func (s *Store) AddTeamMember(ctx context.Context, teamID, userID string) error {
	_, err := s.exec(ctx, "team member", `INSERT INTO team_members (team_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, teamID, userID)
	return err
}

func (s *Store) RemoveTeamMember(ctx context.Context, teamID, userID string) error {
	return s.execOne(ctx, "team member", `DELETE FROM team_members WHERE team_id = ? AND user_id = ?`, teamID, userID)
}

func (s *Store) ListTeamMembers(ctx context.Context, teamID string) ([]meta.User, error) {
	return queryAll(ctx, s, "team members", scanUser, `SELECT u.id, u.name, u.email, u.role, u.password_hash, u.disabled, u.created_at
		FROM users u JOIN team_members m ON m.user_id = u.id WHERE m.team_id = ? ORDER BY u.name`, teamID)
}

func (s *Store) GrantCollection(ctx context.Context, collectionID, teamID string) error {
	_, err := s.exec(ctx, "collection grant", `INSERT INTO collection_teams (collection_id, team_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, collectionID, teamID)
	return err
}

func (s *Store) RevokeCollection(ctx context.Context, collectionID, teamID string) error {
	return s.execOne(ctx, "collection grant", `DELETE FROM collection_teams WHERE collection_id = ? AND team_id = ?`, collectionID, teamID)
}

func (s *Store) IsCollectionReader(ctx context.Context, collectionID, userID string) (bool, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM collection_teams ct JOIN team_members m ON m.team_id = ct.team_id
		WHERE ct.collection_id = ? AND m.user_id = ?`, collectionID, userID).Scan(&n)
	return n > 0, mapErr(err, "collection grant")
}

func (s *Store) DeleteTeam(ctx context.Context, id string) error {
	return s.execOne(ctx, "team", `DELETE FROM teams WHERE id = ?`, id)
}

func (s *Store) ListUserTeams(ctx context.Context, userID string) ([]meta.Team, error) {
	return queryAll(ctx, s, "teams", scanTeam, `SELECT t.id, t.name, t.created_at FROM teams t
		JOIN team_members m ON m.team_id = t.id WHERE m.user_id = ? ORDER BY t.name`, userID)
}

func (s *Store) ListCollectionTeams(ctx context.Context, collectionID string) ([]meta.Team, error) {
	return queryAll(ctx, s, "collection grants", scanTeam, `SELECT t.id, t.name, t.created_at FROM teams t
		JOIN collection_teams ct ON ct.team_id = t.id WHERE ct.collection_id = ? ORDER BY t.name`, collectionID)
}
