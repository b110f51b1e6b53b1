-- The keyserver (internal/pgpkeys, docs/keyserver.md): OpenPGP public keys,
-- each belonging to the user who added it.
CREATE TABLE pgp_keys (
    fingerprint TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES users(id),
    algorithm   INTEGER NOT NULL,
    bits        INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked     BOOLEAN NOT NULL,
    -- The user IDs, one per line (control characters are refused), lower
    -- case in user_ids_lower for searches.
    user_ids       TEXT NOT NULL,
    user_ids_lower TEXT NOT NULL,
    armored     TEXT NOT NULL,
    added_at    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX pgp_keys_owner ON pgp_keys(owner_id);

-- The key IDs of each key's primary key and subkeys: HKP lookups name a
-- key by fingerprint, 64-bit or 32-bit key ID, and `singularity verify`
-- by the ID of the key that made a signature.
CREATE TABLE pgp_key_ids (
    key_fingerprint TEXT NOT NULL REFERENCES pgp_keys(fingerprint) ON DELETE CASCADE,
    fingerprint     TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    short_id        TEXT NOT NULL,
    PRIMARY KEY (key_fingerprint, fingerprint)
);
CREATE INDEX pgp_key_ids_fingerprint ON pgp_key_ids(fingerprint);
CREATE INDEX pgp_key_ids_key_id ON pgp_key_ids(key_id);
CREATE INDEX pgp_key_ids_short_id ON pgp_key_ids(short_id);

-- Every key change takes the next keyring generation (one row, so changes
-- are numbered in commit order); the last change of each fingerprint is
-- kept after the key is removed.
CREATE TABLE pgp_keyring_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO pgp_keyring_generation (id, generation) VALUES (1, 0);
CREATE TABLE pgp_key_changes (
    fingerprint TEXT PRIMARY KEY,
    generation  BIGINT NOT NULL
);

-- Who signed each stored SIF (by content digest), and the generation and
-- time its signatures were last checked: a key change or expiry after
-- that makes the check stale, and the server redoes it.
CREATE TABLE sif_signers (
    digest      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    checked     BIGINT NOT NULL,
    checked_at  BIGINT NOT NULL,
    PRIMARY KEY (digest, fingerprint)
);
CREATE INDEX sif_signers_fingerprint ON sif_signers(fingerprint);

-- A collection's signature rule: pushes need a valid signature by one of
-- these fingerprints (one per line). No row: no rule.
CREATE TABLE signature_policies (
    collection_id TEXT PRIMARY KEY REFERENCES collections(id) ON DELETE CASCADE,
    fingerprints  TEXT NOT NULL,
    updated_by    TEXT NOT NULL,
    updated_at    BIGINT NOT NULL
);
