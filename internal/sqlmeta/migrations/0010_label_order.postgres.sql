-- Label search newest first (docs/library-api.md, Search): each label row
-- holds its image's search number n (search_images.n, set by SetLabels),
-- and the label indexes end with it, so a search by label reads the
-- carriers of a label newest first and stops after its page instead of
-- reading and sorting every carrier.
ALTER TABLE labels ADD COLUMN n BIGINT;
UPDATE labels l SET n = s.n FROM search_images s WHERE s.id = l.image_id;
DROP INDEX labels_key_value;
CREATE INDEX labels_key_value ON labels(key, value, n);
CREATE INDEX labels_key_n ON labels(key, n);
