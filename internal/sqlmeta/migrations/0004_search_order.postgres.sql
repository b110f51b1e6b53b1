-- Library search on PostgreSQL, newest first (docs/library-api.md,
-- Search). Replaces the indexes of 0003_search.postgres.sql on the tables
-- themselves with a search table per searched table, kept in step by
-- triggers in the writing transaction. Each row holds:
--
-- * n, from the sequence search_n, numbering rows in the order they were
--   created: results come newest first, and a search that matches many
--   rows walks the primary key backwards and stops after its page
--   (internal/sqlmeta/search.go);
-- * doc, the text a search matches in one string (one LIKE per row, one
--   GIN index per table): the name and description, for an image its path
--   (entity/collection/container), its container's description and its
--   own, joined by U+0001 (removed from the parts; a search value holding
--   it matches nothing) and lowercased by lower(), which is what ILIKE
--   does to both sides; a pg_trgm GIN index serves LIKE on it;
-- * what the search filters on without reading other tables: its
--   collection's id, privacy and owner; an image's architecture, whether
--   its signatures verify (signed: what the signed filter keeps) and
--   whether it is uploaded.
--
-- ON DELETE CASCADE removes a row with the row it indexes.

DROP INDEX entities_name_trgm;
DROP INDEX entities_description_trgm;
DROP INDEX collections_name_trgm;
DROP INDEX collections_description_trgm;
DROP INDEX containers_name_trgm;
DROP INDEX containers_description_trgm;
DROP INDEX images_description_trgm;

CREATE SEQUENCE search_n;

-- What the signed filter keeps: "verified": true in an image's metadata
-- (its signatures verify against keys Silo holds, bridge.Verification;
-- re-verification rewrites the metadata, and the trigger the row); false
-- for metadata that is not JSON (a trigger must not fail a write).
CREATE FUNCTION search_verified(metadata TEXT) RETURNS BOOLEAN LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN coalesce((metadata::jsonb ->> 'verified') = 'true', false);
EXCEPTION WHEN others THEN
    RETURN false;
END $$;

-- What each search table holds (but n), by the id of the row it indexes.
CREATE VIEW search_entity_docs AS
SELECT e.id, lower(replace(e.name, chr(1), '') || chr(1) || replace(e.description, chr(1), '')) AS doc
FROM entities e;

CREATE VIEW search_collection_docs AS
SELECT c.id, c.id AS collection_id,
    lower(replace(c.name, chr(1), '') || chr(1) || replace(c.description, chr(1), '')) AS doc, c.private, c.owner_id
FROM collections c;

CREATE VIEW search_container_docs AS
SELECT k.id, k.collection_id,
    lower(replace(k.name, chr(1), '') || chr(1) || replace(k.description, chr(1), '')) AS doc, c.private, c.owner_id
FROM containers k JOIN collections c ON c.id = k.collection_id;

CREATE VIEW search_image_docs AS
SELECT i.id, k.collection_id,
    lower(replace(e.name || '/' || c.name || '/' || k.name, chr(1), '') || chr(1) || replace(k.description, chr(1), '')
        || chr(1) || replace(i.description, chr(1), '')) AS doc,
    c.private, c.owner_id, i.arch, search_verified(i.metadata) AS signed, i.uploaded,
    i.container_id, c.entity_id
FROM images i JOIN containers k ON k.id = i.container_id JOIN collections c ON c.id = k.collection_id
JOIN entities e ON e.id = c.entity_id;

CREATE TABLE search_entities (
    n   BIGINT PRIMARY KEY,
    id  TEXT NOT NULL UNIQUE REFERENCES entities(id) ON DELETE CASCADE,
    doc TEXT NOT NULL
);

CREATE TABLE search_collections (
    n             BIGINT PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE REFERENCES collections(id) ON DELETE CASCADE,
    collection_id TEXT NOT NULL,
    doc           TEXT NOT NULL,
    private       BOOLEAN NOT NULL,
    owner_id      TEXT NOT NULL
);

CREATE TABLE search_containers (
    n             BIGINT PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE REFERENCES containers(id) ON DELETE CASCADE,
    collection_id TEXT NOT NULL,
    doc           TEXT NOT NULL,
    private       BOOLEAN NOT NULL,
    owner_id      TEXT NOT NULL
);
CREATE INDEX search_containers_collection ON search_containers (collection_id);

CREATE TABLE search_images (
    n             BIGINT PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE REFERENCES images(id) ON DELETE CASCADE,
    collection_id TEXT NOT NULL,
    doc           TEXT NOT NULL,
    private       BOOLEAN NOT NULL,
    owner_id      TEXT NOT NULL,
    arch          TEXT NOT NULL,
    signed        BOOLEAN NOT NULL,
    uploaded      BOOLEAN NOT NULL
);

-- Rows written before this migration, numbered in the order they were
-- created (n is unique in each table; the sequence continues after the
-- largest).
INSERT INTO search_entities (n, id, doc)
SELECT row_number() OVER (ORDER BY r.created_at, r.id), d.*
FROM search_entity_docs d JOIN entities r ON r.id = d.id;
INSERT INTO search_collections (n, id, collection_id, doc, private, owner_id)
SELECT row_number() OVER (ORDER BY r.created_at, r.id), d.*
FROM search_collection_docs d JOIN collections r ON r.id = d.id;
INSERT INTO search_containers (n, id, collection_id, doc, private, owner_id)
SELECT row_number() OVER (ORDER BY r.created_at, r.id), d.*
FROM search_container_docs d JOIN containers r ON r.id = d.id;
INSERT INTO search_images (n, id, collection_id, doc, private, owner_id, arch, signed, uploaded)
SELECT row_number() OVER (ORDER BY r.created_at, r.id), d.id, d.collection_id, d.doc, d.private, d.owner_id, d.arch, d.signed,
    d.uploaded
FROM search_image_docs d JOIN images r ON r.id = d.id;
SELECT setval('search_n', greatest(1, (SELECT count(*) FROM entities), (SELECT count(*) FROM collections),
    (SELECT count(*) FROM containers), (SELECT count(*) FROM images)));

-- fastupdate is off: with it, new rows wait in an unsorted pending list
-- that every search reads until (auto)vacuum merges it.
CREATE INDEX search_entities_doc ON search_entities USING gin (doc gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX search_collections_doc ON search_collections USING gin (doc gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX search_containers_doc ON search_containers USING gin (doc gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX search_images_doc ON search_images USING gin (doc gin_trgm_ops) WITH (fastupdate = off);

-- Triggers. A row's n never changes: an update rewrites the rest.

CREATE FUNCTION search_entities_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_entities (n, id, doc)
        SELECT nextval('search_n'), d.* FROM search_entity_docs d WHERE d.id = NEW.id;
        RETURN NULL;
    END IF;
    UPDATE search_entities s SET doc = d.doc FROM search_entity_docs d WHERE d.id = NEW.id AND s.id = d.id;
    -- An entity's name is in its images' paths.
    IF NEW.name IS DISTINCT FROM OLD.name THEN
        UPDATE search_images s SET doc = d.doc FROM search_image_docs d WHERE d.entity_id = NEW.id AND s.id = d.id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER entities_search AFTER INSERT OR UPDATE OF name, description ON entities
FOR EACH ROW EXECUTE FUNCTION search_entities_write();

CREATE FUNCTION search_collections_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_collections (n, id, collection_id, doc, private, owner_id)
        SELECT nextval('search_n'), d.* FROM search_collection_docs d WHERE d.id = NEW.id;
        RETURN NULL;
    END IF;
    UPDATE search_collections s SET doc = d.doc, private = d.private, owner_id = d.owner_id
    FROM search_collection_docs d WHERE d.id = NEW.id AND s.id = d.id;
    -- Privacy and owner are in its containers' and images' rows, its
    -- name in its images' paths.
    IF NEW.private IS DISTINCT FROM OLD.private OR NEW.owner_id IS DISTINCT FROM OLD.owner_id THEN
        UPDATE search_containers s SET private = NEW.private, owner_id = NEW.owner_id WHERE s.collection_id = NEW.id;
    END IF;
    IF NEW.private IS DISTINCT FROM OLD.private OR NEW.owner_id IS DISTINCT FROM OLD.owner_id
        OR NEW.name IS DISTINCT FROM OLD.name THEN
        UPDATE search_images s SET doc = d.doc, private = d.private, owner_id = d.owner_id
        FROM search_image_docs d WHERE d.collection_id = NEW.id AND s.id = d.id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER collections_search AFTER INSERT OR UPDATE OF name, description, private, owner_id ON collections
FOR EACH ROW EXECUTE FUNCTION search_collections_write();

CREATE FUNCTION search_containers_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_containers (n, id, collection_id, doc, private, owner_id)
        SELECT nextval('search_n'), d.* FROM search_container_docs d WHERE d.id = NEW.id;
        RETURN NULL;
    END IF;
    UPDATE search_containers s SET doc = d.doc FROM search_container_docs d WHERE d.id = NEW.id AND s.id = d.id;
    -- Its name and description are in its images' rows.
    UPDATE search_images s SET doc = d.doc
    FROM search_image_docs d WHERE d.container_id = NEW.id AND s.id = d.id;
    RETURN NULL;
END $$;

CREATE TRIGGER containers_search AFTER INSERT OR UPDATE OF name, description ON containers
FOR EACH ROW EXECUTE FUNCTION search_containers_write();

CREATE FUNCTION search_images_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_images (n, id, collection_id, doc, private, owner_id, arch, signed, uploaded)
        SELECT nextval('search_n'), d.id, d.collection_id, d.doc, d.private, d.owner_id, d.arch, d.signed, d.uploaded
        FROM search_image_docs d WHERE d.id = NEW.id;
        RETURN NULL;
    END IF;
    UPDATE search_images s SET doc = d.doc, arch = d.arch, signed = d.signed, uploaded = d.uploaded
    FROM search_image_docs d WHERE d.id = NEW.id AND s.id = d.id;
    RETURN NULL;
END $$;

CREATE TRIGGER images_search AFTER INSERT OR UPDATE OF description, arch, metadata, uploaded ON images
FOR EACH ROW EXECUTE FUNCTION search_images_write();
