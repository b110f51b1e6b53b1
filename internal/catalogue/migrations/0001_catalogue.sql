-- The client's local image catalogue (docs/client.md), shaped like
-- sregistry-cli's database (seed 004): collections, and images named
-- collection/container:tag@version.
CREATE TABLE collections (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE images (
    id            INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections (id),
    name          TEXT NOT NULL,
    tag           TEXT NOT NULL,
    -- The sha256 hex of the file; '' when unknown.
    version       TEXT NOT NULL DEFAULT '',
    -- How the image came: library, oras, docker, shub, or local (silo add).
    client        TEXT NOT NULL,
    -- The local file; NULL when none is kept.
    image         TEXT,
    -- Where the bytes were downloaded from, and the reference pulled.
    url           TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL DEFAULT '',
    size          INTEGER NOT NULL DEFAULT 0,
    -- What the server said about the image (JSON object).
    metrics       TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (collection_id, name, tag, version)
);

CREATE INDEX images_by_name ON images (name, tag);
