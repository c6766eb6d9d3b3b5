-- Samples per inbox row, so compaction can take a bounded number of samples per pass
-- without reading the arrays first.
ALTER TABLE inbox ADD COLUMN n integer NOT NULL DEFAULT 0;
