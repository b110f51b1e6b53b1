-- Web UI sessions: the cookie carries a random secret, only its SHA-256
-- is kept (as for API tokens). Expired rows are swept by the server.
CREATE TABLE web_sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash         TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);
CREATE INDEX web_sessions_expires ON web_sessions(expires_at);

-- Failed log-ins per key ("user:<name>", "addr:<ip>"), so every replica
-- applies the same delay (internal/auth).
CREATE TABLE login_failures (
    key        TEXT PRIMARY KEY,
    failures   INTEGER NOT NULL,
    last_at    BIGINT NOT NULL
);

-- Recent pushes on the home page walk images newest first.
CREATE INDEX images_updated ON images(updated_at);
-- A collection's grants (collection_teams' key serves the other way).
CREATE INDEX collection_teams_team ON collection_teams(team_id);
-- A user's teams.
CREATE INDEX team_members_user ON team_members(user_id);

-- Downloads of each library image (the web UI shows them; the Library API
-- gives a container's total as downloadCount).
ALTER TABLE images ADD COLUMN downloads BIGINT NOT NULL DEFAULT 0;
