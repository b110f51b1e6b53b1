-- Library API: the single-part upload completion names only its image, so
-- sessions are found by (kind, target).
CREATE INDEX uploads_kind_target ON uploads(kind, target);
