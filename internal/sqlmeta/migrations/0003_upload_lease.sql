-- The one-writer lease of an upload session (internal/upload): a request
-- holds it while it appends, so two requests (on any replica) can never
-- interleave one session's bytes.
ALTER TABLE uploads ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
