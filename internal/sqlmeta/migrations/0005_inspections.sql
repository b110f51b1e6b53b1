-- What was read from each SIF blob (internal/sifinspect's JSON): once per
-- content digest, shared by every image with that content. version is the
-- inspector's: an older inspection is redone by the server's backfill.
CREATE TABLE sif_inspections (
    digest     TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    inspection TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- GET /v1/labels?value= without a key (labels_key_value serves key, key+value).
CREATE INDEX labels_value ON labels(value);
