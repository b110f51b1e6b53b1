-- Library search on PostgreSQL: pg_trgm GIN indexes serve the searches'
-- ILIKE '%text%' conditions (docs/library-api.md, Search). pg_trgm is a
-- trusted extension (PostgreSQL 13 and later): a database owner may create
-- it. The indexes are built here over rows written before this migration.
-- fastupdate is off: with it, new rows wait in an unsorted pending list that
-- every search reads until (auto)vacuum merges it, which made searches after
-- a burst of pushes several times slower; pushes are rare next to searches.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX entities_name_trgm ON entities USING gin (name gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX entities_description_trgm ON entities USING gin (description gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX collections_name_trgm ON collections USING gin (name gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX collections_description_trgm ON collections USING gin (description gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX containers_name_trgm ON containers USING gin (name gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX containers_description_trgm ON containers USING gin (description gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX images_description_trgm ON images USING gin (description gin_trgm_ops) WITH (fastupdate = off);
