-- Library search, newest first (docs/library-api.md, Search). Replaces the
-- indexes of 0003_search.sqlite.sql so that a search reads its page and
-- stops, however many rows match:
--
-- * search_keys.n (an INTEGER PRIMARY KEY, so VACUUM keeps it) numbers the
--   rows of each searched table in the order they were created, and is the
--   rowid of the row's FTS entry. FTS5 yields a match's rowids in order, so
--   ORDER BY rowid DESC LIMIT streams the newest matches and stops.
-- * An image's entry holds its path (entity/collection/container), its
--   container's description and its own: one lookup finds images by any
--   of them, in one order.
-- * The column "keys" holds what privacy and the image filters match, so
--   the index skips rows the caller may not see (or did not ask for)
--   instead of reading them. A flag is a code of three characters, one
--   trigram, which costs the index least to check: U+E000 (which appears
--   nowhere else in keys) and two more: "pu" for a public collection,
--   "si" for an image the signed filter keeps (its metadata has
--   "verified": true: its signatures verify against keys Silo holds), and for an image's architecture the number of
--   its row in search_arches in two characters from U+E001 (the unknown
--   architecture, '', has a row too). A private collection's rows hold the
--   words " u:<owner id> " and " t:<team id> " for each team granted it
--   instead of "pu"; the spaces delimit them (the trigram tokenizer matches
--   a quoted phrase as a substring, and no id holds a space). Only
--   uploaded images are indexed.
--
-- The views search_*_docs are what each index holds; triggers keep the
-- indexes equal to them in the writing statement's own transaction,
-- including for ON DELETE CASCADE and renames, privacy changes and team
-- grants, which change the rows of a collection's containers and images.

DROP TRIGGER entities_search_insert;
DROP TRIGGER entities_search_update;
DROP TRIGGER entities_search_delete;
DROP TRIGGER collections_search_insert;
DROP TRIGGER collections_search_update;
DROP TRIGGER collections_search_delete;
DROP TRIGGER containers_search_insert;
DROP TRIGGER containers_search_update;
DROP TRIGGER containers_search_delete;
DROP TRIGGER images_search_insert;
DROP TRIGGER images_search_update;
DROP TRIGGER images_search_delete;
DROP TABLE entities_fts;
DROP TABLE collections_fts;
DROP TABLE containers_fts;
DROP TABLE images_fts;
DROP TABLE search_keys;

CREATE TABLE search_keys (
    n    INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    UNIQUE (kind, id)
);

-- The architectures of images, numbered for their flags.
CREATE TABLE search_arches (
    n    INTEGER PRIMARY KEY,
    arch TEXT NOT NULL UNIQUE
);

-- Who may read each collection, as words of the keys column. This is
-- access.Checker.CanReadCollection: public, or the owner, or a member of a
-- team granted the collection (admins read everything and match no word).
CREATE VIEW search_access (collection_id, keys) AS
SELECT c.id, CASE WHEN c.private THEN
        ' u:' || c.owner_id || ' ' || coalesce((SELECT group_concat('t:' || ct.team_id || ' ', '')
            FROM collection_teams ct WHERE ct.collection_id = c.id), '')
    ELSE char(57344) || 'pu' END
FROM collections c;

CREATE VIEW search_entity_docs (n, id, name, description) AS
SELECT s.n, e.id, e.name, e.description
FROM entities e JOIN search_keys s ON s.kind = 'entities' AND s.id = e.id;

CREATE VIEW search_collection_docs (n, id, name, description, keys) AS
SELECT s.n, c.id, c.name, c.description, a.keys
FROM collections c JOIN search_keys s ON s.kind = 'collections' AND s.id = c.id
JOIN search_access a ON a.collection_id = c.id;

CREATE VIEW search_container_docs (n, id, collection_id, name, description, keys) AS
SELECT s.n, k.id, k.collection_id, k.name, k.description, a.keys
FROM containers k JOIN search_keys s ON s.kind = 'containers' AND s.id = k.id
JOIN search_access a ON a.collection_id = k.collection_id;

CREATE VIEW search_image_docs (n, id, container_id, collection_id, entity_id, path, container_description, description, keys) AS
SELECT s.n, i.id, i.container_id, k.collection_id, c.entity_id, e.name || '/' || c.name || '/' || k.name,
    k.description, i.description,
    a.keys || char(57344, 57345 + r.n % 6000, 57345 + r.n / 6000) || CASE WHEN NOT json_valid(i.metadata) THEN ''
        WHEN json_extract(i.metadata, '$.verified') = 1 THEN char(57344) || 'si' ELSE '' END
FROM images i JOIN search_keys s ON s.kind = 'images' AND s.id = i.id
JOIN search_arches r ON r.arch = i.arch
JOIN containers k ON k.id = i.container_id
JOIN collections c ON c.id = k.collection_id
JOIN entities e ON e.id = c.entity_id
JOIN search_access a ON a.collection_id = c.id
WHERE i.uploaded;

CREATE VIRTUAL TABLE entities_fts USING fts5(id UNINDEXED, name, description, tokenize = 'trigram');
CREATE VIRTUAL TABLE collections_fts USING fts5(id UNINDEXED, name, description, keys, tokenize = 'trigram');
CREATE VIRTUAL TABLE containers_fts USING fts5(id UNINDEXED, name, description, keys, tokenize = 'trigram');
CREATE VIRTUAL TABLE images_fts USING fts5(id UNINDEXED, path, container_description, description, keys, tokenize = 'trigram');

-- Entities.

CREATE TRIGGER entities_search_insert AFTER INSERT ON entities BEGIN
    INSERT INTO search_keys (kind, id) VALUES ('entities', new.id);
    INSERT INTO entities_fts (rowid, id, name, description)
        SELECT n, id, name, description FROM search_entity_docs WHERE id = new.id;
END;

CREATE TRIGGER entities_search_update AFTER UPDATE OF name, description ON entities
WHEN old.name IS NOT new.name OR old.description IS NOT new.description BEGIN
    DELETE FROM entities_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'entities' AND id = new.id);
    INSERT INTO entities_fts (rowid, id, name, description)
        SELECT n, id, name, description FROM search_entity_docs WHERE id = new.id;
END;

-- An entity's name is in its images' paths.
CREATE TRIGGER entities_search_rename AFTER UPDATE OF name ON entities
WHEN old.name IS NOT new.name BEGIN
    DELETE FROM images_fts WHERE rowid IN (SELECT n FROM search_image_docs WHERE entity_id = new.id);
    INSERT INTO images_fts (rowid, id, path, container_description, description, keys)
        SELECT n, id, path, container_description, description, keys FROM search_image_docs WHERE entity_id = new.id;
END;

CREATE TRIGGER entities_search_delete AFTER DELETE ON entities BEGIN
    DELETE FROM entities_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'entities' AND id = old.id);
    DELETE FROM search_keys WHERE kind = 'entities' AND id = old.id;
END;

-- Collections.

CREATE TRIGGER collections_search_insert AFTER INSERT ON collections BEGIN
    INSERT INTO search_keys (kind, id) VALUES ('collections', new.id);
    INSERT INTO collections_fts (rowid, id, name, description, keys)
        SELECT n, id, name, description, keys FROM search_collection_docs WHERE id = new.id;
END;

CREATE TRIGGER collections_search_update AFTER UPDATE OF name, description, private, owner_id ON collections
WHEN old.name IS NOT new.name OR old.description IS NOT new.description
    OR old.private IS NOT new.private OR old.owner_id IS NOT new.owner_id BEGIN
    DELETE FROM collections_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'collections' AND id = new.id);
    INSERT INTO collections_fts (rowid, id, name, description, keys)
        SELECT n, id, name, description, keys FROM search_collection_docs WHERE id = new.id;
END;

-- Who may read a collection is in its containers' and images' keys.
CREATE TRIGGER collections_search_access AFTER UPDATE OF private, owner_id ON collections
WHEN old.private IS NOT new.private OR old.owner_id IS NOT new.owner_id BEGIN
    DELETE FROM containers_fts WHERE rowid IN (SELECT n FROM search_container_docs WHERE collection_id = new.id);
    INSERT INTO containers_fts (rowid, id, name, description, keys)
        SELECT n, id, name, description, keys FROM search_container_docs WHERE collection_id = new.id;
END;

-- A collection's name and who may read it are in its images' rows.
CREATE TRIGGER collections_search_images AFTER UPDATE OF name, private, owner_id ON collections
WHEN old.name IS NOT new.name OR old.private IS NOT new.private OR old.owner_id IS NOT new.owner_id BEGIN
    DELETE FROM images_fts WHERE rowid IN (SELECT n FROM search_image_docs WHERE collection_id = new.id);
    INSERT INTO images_fts (rowid, id, path, container_description, description, keys)
        SELECT n, id, path, container_description, description, keys FROM search_image_docs WHERE collection_id = new.id;
END;

CREATE TRIGGER collections_search_delete AFTER DELETE ON collections BEGIN
    DELETE FROM collections_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'collections' AND id = old.id);
    DELETE FROM search_keys WHERE kind = 'collections' AND id = old.id;
END;

-- Team grants of a private collection are in the keys of its rows, its
-- containers' and its images'. (A collection being deleted is gone by
-- the time its grants cascade, and so are its rows.)
CREATE TRIGGER collection_teams_search_insert AFTER INSERT ON collection_teams
WHEN (SELECT private FROM collections WHERE id = new.collection_id) BEGIN
    DELETE FROM collections_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'collections' AND id = new.collection_id);
    INSERT INTO collections_fts (rowid, id, name, description, keys)
        SELECT n, id, name, description, keys FROM search_collection_docs WHERE id = new.collection_id;
    DELETE FROM containers_fts WHERE rowid IN (SELECT n FROM search_container_docs WHERE collection_id = new.collection_id);
    INSERT INTO containers_fts (rowid, id, name, description, keys)
        SELECT n, id, name, description, keys FROM search_container_docs WHERE collection_id = new.collection_id;
    DELETE FROM images_fts WHERE rowid IN (SELECT n FROM search_image_docs WHERE collection_id = new.collection_id);
    INSERT INTO images_fts (rowid, id, path, container_description, description, keys)
        SELECT n, id, path, container_description, description, keys FROM search_image_docs WHERE collection_id = new.collection_id;
END;

CREATE TRIGGER collection_teams_search_delete AFTER DELETE ON collection_teams
WHEN (SELECT private FROM collections WHERE id = old.collection_id) BEGIN
    DELETE FROM collections_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'collections' AND id = old.collection_id);
    INSERT INTO collections_fts (rowid, id, name, description, keys)
        SELECT n, id, name, description, keys FROM search_collection_docs WHERE id = old.collection_id;
    DELETE FROM containers_fts WHERE rowid IN (SELECT n FROM search_container_docs WHERE collection_id = old.collection_id);
    INSERT INTO containers_fts (rowid, id, name, description, keys)
        SELECT n, id, name, description, keys FROM search_container_docs WHERE collection_id = old.collection_id;
    DELETE FROM images_fts WHERE rowid IN (SELECT n FROM search_image_docs WHERE collection_id = old.collection_id);
    INSERT INTO images_fts (rowid, id, path, container_description, description, keys)
        SELECT n, id, path, container_description, description, keys FROM search_image_docs WHERE collection_id = old.collection_id;
END;

-- Containers.

CREATE TRIGGER containers_search_insert AFTER INSERT ON containers BEGIN
    INSERT INTO search_keys (kind, id) VALUES ('containers', new.id);
    INSERT INTO containers_fts (rowid, id, name, description, keys)
        SELECT n, id, name, description, keys FROM search_container_docs WHERE id = new.id;
END;

-- A container's name and description are in its images' rows too.
CREATE TRIGGER containers_search_update AFTER UPDATE OF name, description ON containers
WHEN old.name IS NOT new.name OR old.description IS NOT new.description BEGIN
    DELETE FROM containers_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'containers' AND id = new.id);
    INSERT INTO containers_fts (rowid, id, name, description, keys)
        SELECT n, id, name, description, keys FROM search_container_docs WHERE id = new.id;
    DELETE FROM images_fts WHERE rowid IN (SELECT n FROM search_image_docs WHERE container_id = new.id);
    INSERT INTO images_fts (rowid, id, path, container_description, description, keys)
        SELECT n, id, path, container_description, description, keys FROM search_image_docs WHERE container_id = new.id;
END;

CREATE TRIGGER containers_search_delete AFTER DELETE ON containers BEGIN
    DELETE FROM containers_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'containers' AND id = old.id);
    DELETE FROM search_keys WHERE kind = 'containers' AND id = old.id;
END;

-- Images (indexed once uploaded).

CREATE TRIGGER images_search_insert AFTER INSERT ON images BEGIN
    INSERT INTO search_keys (kind, id) VALUES ('images', new.id);
    INSERT OR IGNORE INTO search_arches (arch) VALUES (new.arch);
    INSERT INTO images_fts (rowid, id, path, container_description, description, keys)
        SELECT n, id, path, container_description, description, keys FROM search_image_docs WHERE id = new.id;
END;

CREATE TRIGGER images_search_update AFTER UPDATE OF description, arch, metadata, uploaded ON images
WHEN old.description IS NOT new.description OR old.arch IS NOT new.arch
    OR old.metadata IS NOT new.metadata OR old.uploaded IS NOT new.uploaded BEGIN
    INSERT OR IGNORE INTO search_arches (arch) VALUES (new.arch);
    DELETE FROM images_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'images' AND id = new.id);
    INSERT INTO images_fts (rowid, id, path, container_description, description, keys)
        SELECT n, id, path, container_description, description, keys FROM search_image_docs WHERE id = new.id;
END;

CREATE TRIGGER images_search_delete AFTER DELETE ON images BEGIN
    DELETE FROM images_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'images' AND id = old.id);
    DELETE FROM search_keys WHERE kind = 'images' AND id = old.id;
END;

-- Rows written before this migration, numbered in the order they were
-- created.
INSERT INTO search_keys (kind, id) SELECT 'entities', id FROM entities ORDER BY created_at, id;
INSERT INTO search_keys (kind, id) SELECT 'collections', id FROM collections ORDER BY created_at, id;
INSERT INTO search_keys (kind, id) SELECT 'containers', id FROM containers ORDER BY created_at, id;
INSERT INTO search_keys (kind, id) SELECT 'images', id FROM images ORDER BY created_at, id;
INSERT INTO search_arches (arch) SELECT DISTINCT arch FROM images ORDER BY arch;
INSERT INTO entities_fts (rowid, id, name, description)
    SELECT n, id, name, description FROM search_entity_docs ORDER BY n;
INSERT INTO collections_fts (rowid, id, name, description, keys)
    SELECT n, id, name, description, keys FROM search_collection_docs ORDER BY n;
INSERT INTO containers_fts (rowid, id, name, description, keys)
    SELECT n, id, name, description, keys FROM search_container_docs ORDER BY n;
INSERT INTO images_fts (rowid, id, path, container_description, description, keys)
    SELECT n, id, path, container_description, description, keys FROM search_image_docs ORDER BY n;
