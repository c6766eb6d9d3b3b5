-- The inbox row's time range, so compaction can pick rows whose every sample lies in a
-- closed window without unnesting them; and no compression of inbox arrays (they are
-- written once and read once: compressing them costs the writer CPU for nothing).
ALTER TABLE inbox ADD COLUMN min_ts_ms bigint NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN max_ts_ms bigint NOT NULL DEFAULT 0;
ALTER TABLE inbox ALTER COLUMN series_ids SET STORAGE EXTERNAL;
ALTER TABLE inbox ALTER COLUMN ts_ms SET STORAGE EXTERNAL;
ALTER TABLE inbox ALTER COLUMN vals SET STORAGE EXTERNAL;
CREATE INDEX inbox_max_ts_idx ON inbox (max_ts_ms);
