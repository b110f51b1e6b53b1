-- The online garbage collector of blobs (internal/gc, docs/gc.md). A blob
-- row is live, deleting (the collector has claimed it and is removing its
-- bytes) or gone (a tombstone: the bytes were removed). touched_at is when
-- a request last relied on the blob (stored it, referenced it, linked it):
-- the collector only claims blobs untouched for its grace period, in a
-- statement that re-checks every reference, and every request that
-- references a blob touches its row in the same transaction, so one of the
-- two always sees the other.
ALTER TABLE blobs ADD COLUMN state TEXT NOT NULL DEFAULT 'live';
ALTER TABLE blobs ADD COLUMN touched_at BIGINT NOT NULL DEFAULT 0;
UPDATE blobs SET touched_at = created_at;
-- Uploaded library images recorded their blob through the OCI mirror; an
-- image from before that (none should exist) gets its row here.
INSERT INTO blobs (digest, size, created_at, state, touched_at)
    SELECT digest, MAX(size), MIN(created_at), 'live', MAX(updated_at) FROM images WHERE uploaded GROUP BY digest
    ON CONFLICT (digest) DO NOTHING;
CREATE INDEX blobs_collectable ON blobs(state, touched_at);
-- Links are looked up by digest (collection, usage) as well as by
-- repository (their primary key).
CREATE INDEX repository_blobs_digest ON repository_blobs(digest);
-- Quotas (internal/quota): bytes a user or a collection may hold.
CREATE TABLE quotas (
    kind       TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    limit_bytes BIGINT NOT NULL,
    PRIMARY KEY (kind, subject_id)
);
