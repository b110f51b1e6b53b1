-- Search indexes merged in the background (internal/sqlmeta/ftsmerge.go):
-- FTS5's 'merge' command, which the merger runs, merges a level of an
-- index once it holds usermerge segments; at 2 every level is kept to one
-- segment. A search reads every segment of its terms' lists (at 100,000
-- containers images_fts had grown to 20: merged to 4, the label/dense+text
-- search's FTS query took half the time). FTS5 keeps the setting in each
-- index's _config table.
INSERT INTO entities_fts(entities_fts, rank) VALUES ('usermerge', 2);
INSERT INTO collections_fts(collections_fts, rank) VALUES ('usermerge', 2);
INSERT INTO containers_fts(containers_fts, rank) VALUES ('usermerge', 2);
INSERT INTO images_fts(images_fts, rank) VALUES ('usermerge', 2);
