-- Singularity Registry Server API (internal/sregistry, docs/sregistry.md).
-- Its bare names (/api/container/<collection>/...) find a collection by
-- name across entities.
CREATE INDEX collections_name ON collections(name);
-- Each collection's download URLs are capabilities derived from the
-- server's key, the collection and this salt: a new salt (a rotation)
-- revokes every URL handed out before. No row: never rotated.
CREATE TABLE sregistry_download_salts (
    collection_id TEXT PRIMARY KEY REFERENCES collections(id) ON DELETE CASCADE,
    salt          TEXT NOT NULL,
    rotated_at    BIGINT NOT NULL
);
