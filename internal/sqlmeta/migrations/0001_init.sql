-- Silo metadata schema. One text for SQLite and PostgreSQL: ids are opaque
-- strings made in Go, times are Unix microseconds (0 = unset), and {{BYTES}}
-- becomes BLOB or BYTEA.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);

-- API tokens: only a SHA-256 of the token is kept.
CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label        TEXT NOT NULL DEFAULT '',
    hash         TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL DEFAULT 0,
    expires_at   BIGINT NOT NULL DEFAULT 0,
    revoked      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE teams (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);

-- Library namespace: entity / collection / container.
CREATE TABLE entities (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT NOT NULL DEFAULT '',
    owner_id        TEXT NOT NULL DEFAULT '',
    default_private BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL
);

CREATE TABLE collections (
    id          TEXT PRIMARY KEY,
    entity_id   TEXT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_id    TEXT NOT NULL DEFAULT '',
    private     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (entity_id, name)
);

-- Teams granted pull on a private collection.
CREATE TABLE collection_teams (
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    team_id       TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    PRIMARY KEY (collection_id, team_id)
);

CREATE TABLE containers (
    id            TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    frozen        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (collection_id, name)
);

-- A library image is one SIF file in one container. digest is the OCI
-- form (sha256:<hex>); the Library API shows it as sha256.<hex>.
CREATE TABLE images (
    id              TEXT PRIMARY KEY,
    container_id    TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    digest          TEXT NOT NULL,
    size            BIGINT NOT NULL DEFAULT 0,
    arch            TEXT NOT NULL DEFAULT '',
    description     TEXT NOT NULL DEFAULT '',
    uploaded        BOOLEAN NOT NULL DEFAULT FALSE,
    metadata        TEXT NOT NULL DEFAULT '{}',
    manifest_digest TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (container_id, digest)
);
CREATE INDEX images_digest ON images(digest);

-- Library tags are per architecture.
CREATE TABLE library_tags (
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    arch         TEXT NOT NULL,
    tag          TEXT NOT NULL,
    image_id     TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (container_id, arch, tag)
);
CREATE INDEX library_tags_image ON library_tags(image_id);

CREATE TABLE labels (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (image_id, key)
);
CREATE INDEX labels_key_value ON labels(key, value);

-- OCI side. A repository named entity/collection/container is the library
-- container (container_id set); other names are plain OCI repositories.
CREATE TABLE repositories (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    container_id TEXT REFERENCES containers(id) ON DELETE CASCADE,
    owner_id     TEXT NOT NULL DEFAULT '',
    private      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL
);

-- Every committed blob the registry knows of; GC removes unreferenced ones.
CREATE TABLE blobs (
    digest     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Which repositories may serve a blob (pushed or mounted there).
CREATE TABLE repository_blobs (
    repository_id TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest        TEXT NOT NULL REFERENCES blobs(digest) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);

-- Manifests are stored byte-exact.
CREATE TABLE manifests (
    repository_id     TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest            TEXT NOT NULL,
    media_type        TEXT NOT NULL,
    size              BIGINT NOT NULL,
    content           {{BYTES}} NOT NULL,
    artifact_type     TEXT NOT NULL DEFAULT '',
    config_media_type TEXT NOT NULL DEFAULT '',
    subject           TEXT NOT NULL DEFAULT '',
    annotations       TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX manifests_subject ON manifests(repository_id, subject);

-- Blobs and child manifests a manifest references (for GC and deletes).
CREATE TABLE manifest_refs (
    repository_id   TEXT NOT NULL,
    manifest_digest TEXT NOT NULL,
    ref_digest      TEXT NOT NULL,
    PRIMARY KEY (repository_id, manifest_digest, ref_digest),
    FOREIGN KEY (repository_id, manifest_digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_refs_ref ON manifest_refs(ref_digest);

CREATE TABLE oci_tags (
    repository_id TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    tag           TEXT NOT NULL,
    digest        TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (repository_id, tag),
    FOREIGN KEY (repository_id, digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE
);

-- Upload sessions (OCI blob uploads, library single and multipart
-- uploads). blob_upload_id names the blob store session; state is JSON
-- owned by the service that created it.
CREATE TABLE uploads (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    target         TEXT NOT NULL DEFAULT '',
    blob_upload_id TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL DEFAULT '{}',
    user_id        TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
