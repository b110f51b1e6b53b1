-- Library search on SQLite: FTS5 trigram indexes, so "contains" is an index
-- lookup instead of LIKE over every row (docs/library-api.md, Search).
--
-- Each searched table has a content-storing FTS5 table holding the row's id
-- and text. Its rowid comes from search_keys, whose INTEGER PRIMARY KEY
-- VACUUM keeps (the implicit rowids of our TEXT-keyed tables it may
-- renumber, which would silently point an external-content index at other
-- rows); search_keys also finds a row's index entry on update and delete.
--
-- Triggers keep the indexes in step, in the writing statement's own
-- transaction: every writer, and ON DELETE CASCADE (a deleted collection's
-- containers and images), updates them without the store's Go code
-- having to remember to.

CREATE TABLE search_keys (
    n    INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    UNIQUE (kind, id)
);

CREATE VIRTUAL TABLE entities_fts USING fts5(id UNINDEXED, name, description, tokenize = 'trigram');

CREATE TRIGGER entities_search_insert AFTER INSERT ON entities BEGIN
    INSERT INTO search_keys (kind, id) VALUES ('entities', new.id);
    INSERT INTO entities_fts (rowid, id, name, description) VALUES (
        (SELECT n FROM search_keys WHERE kind = 'entities' AND id = new.id),
        new.id, new.name, new.description);
END;

CREATE TRIGGER entities_search_update AFTER UPDATE OF name, description ON entities
WHEN old.name IS NOT new.name OR old.description IS NOT new.description BEGIN
    UPDATE entities_fts SET name = new.name, description = new.description
    WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'entities' AND id = new.id);
END;

CREATE TRIGGER entities_search_delete AFTER DELETE ON entities BEGIN
    DELETE FROM entities_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'entities' AND id = old.id);
    DELETE FROM search_keys WHERE kind = 'entities' AND id = old.id;
END;

-- Rows written before this migration.
INSERT INTO search_keys (kind, id) SELECT 'entities', id FROM entities;
INSERT INTO entities_fts (rowid, id, name, description)
    SELECT s.n, r.id, r.name, r.description FROM entities r JOIN search_keys s ON s.kind = 'entities' AND s.id = r.id;

CREATE VIRTUAL TABLE collections_fts USING fts5(id UNINDEXED, name, description, tokenize = 'trigram');

CREATE TRIGGER collections_search_insert AFTER INSERT ON collections BEGIN
    INSERT INTO search_keys (kind, id) VALUES ('collections', new.id);
    INSERT INTO collections_fts (rowid, id, name, description) VALUES (
        (SELECT n FROM search_keys WHERE kind = 'collections' AND id = new.id),
        new.id, new.name, new.description);
END;

CREATE TRIGGER collections_search_update AFTER UPDATE OF name, description ON collections
WHEN old.name IS NOT new.name OR old.description IS NOT new.description BEGIN
    UPDATE collections_fts SET name = new.name, description = new.description
    WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'collections' AND id = new.id);
END;

CREATE TRIGGER collections_search_delete AFTER DELETE ON collections BEGIN
    DELETE FROM collections_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'collections' AND id = old.id);
    DELETE FROM search_keys WHERE kind = 'collections' AND id = old.id;
END;

-- Rows written before this migration.
INSERT INTO search_keys (kind, id) SELECT 'collections', id FROM collections;
INSERT INTO collections_fts (rowid, id, name, description)
    SELECT s.n, r.id, r.name, r.description FROM collections r JOIN search_keys s ON s.kind = 'collections' AND s.id = r.id;

CREATE VIRTUAL TABLE containers_fts USING fts5(id UNINDEXED, name, description, tokenize = 'trigram');

CREATE TRIGGER containers_search_insert AFTER INSERT ON containers BEGIN
    INSERT INTO search_keys (kind, id) VALUES ('containers', new.id);
    INSERT INTO containers_fts (rowid, id, name, description) VALUES (
        (SELECT n FROM search_keys WHERE kind = 'containers' AND id = new.id),
        new.id, new.name, new.description);
END;

CREATE TRIGGER containers_search_update AFTER UPDATE OF name, description ON containers
WHEN old.name IS NOT new.name OR old.description IS NOT new.description BEGIN
    UPDATE containers_fts SET name = new.name, description = new.description
    WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'containers' AND id = new.id);
END;

CREATE TRIGGER containers_search_delete AFTER DELETE ON containers BEGIN
    DELETE FROM containers_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'containers' AND id = old.id);
    DELETE FROM search_keys WHERE kind = 'containers' AND id = old.id;
END;

-- Rows written before this migration.
INSERT INTO search_keys (kind, id) SELECT 'containers', id FROM containers;
INSERT INTO containers_fts (rowid, id, name, description)
    SELECT s.n, r.id, r.name, r.description FROM containers r JOIN search_keys s ON s.kind = 'containers' AND s.id = r.id;

CREATE VIRTUAL TABLE images_fts USING fts5(id UNINDEXED, description, tokenize = 'trigram');

CREATE TRIGGER images_search_insert AFTER INSERT ON images BEGIN
    INSERT INTO search_keys (kind, id) VALUES ('images', new.id);
    INSERT INTO images_fts (rowid, id, description) VALUES (
        (SELECT n FROM search_keys WHERE kind = 'images' AND id = new.id),
        new.id, new.description);
END;

CREATE TRIGGER images_search_update AFTER UPDATE OF description ON images
WHEN old.description IS NOT new.description BEGIN
    UPDATE images_fts SET description = new.description
    WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'images' AND id = new.id);
END;

CREATE TRIGGER images_search_delete AFTER DELETE ON images BEGIN
    DELETE FROM images_fts WHERE rowid = (SELECT n FROM search_keys WHERE kind = 'images' AND id = old.id);
    DELETE FROM search_keys WHERE kind = 'images' AND id = old.id;
END;

-- Rows written before this migration.
INSERT INTO search_keys (kind, id) SELECT 'images', id FROM images;
INSERT INTO images_fts (rowid, id, description)
    SELECT s.n, r.id, r.description FROM images r JOIN search_keys s ON s.kind = 'images' AND s.id = r.id;
