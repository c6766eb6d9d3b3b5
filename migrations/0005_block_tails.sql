-- Blocks in two parts (docs/storage-format.md, "PostgreSQL side"): `data` holds the block's
-- first bytes, a whole number of TOAST chunks (1996 bytes on 8 kB pages), stored out of
-- line uncompressed; `tail` holds the rest (under 1996 bytes) in the row. A block is
-- data || tail. TOAST then writes only full chunks, four to a page, where a block's last
-- partial chunk used to leave on average half a chunk of its page empty: a day's blocks
-- take 6 % over their bytes instead of 14 %. Rows written before keep their whole block
-- in `data` and an empty `tail`.
ALTER TABLE sample_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE sample_blocks ADD COLUMN tail bytea NOT NULL DEFAULT '';
ALTER TABLE sample_blocks ALTER COLUMN tail SET STORAGE MAIN;
ALTER TABLE rollup_1m_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE rollup_1m_blocks ADD COLUMN tail bytea NOT NULL DEFAULT '';
ALTER TABLE rollup_1m_blocks ALTER COLUMN tail SET STORAGE MAIN;
ALTER TABLE rollup_1h_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE rollup_1h_blocks ADD COLUMN tail bytea NOT NULL DEFAULT '';
ALTER TABLE rollup_1h_blocks ALTER COLUMN tail SET STORAGE MAIN;

-- Packed streams of block version 2: a header byte 0x41..0x7f stands for 2..64 blocks of
-- 64 zeros (the last may be the stream's short one).
CREATE OR REPLACE FUNCTION metricsd_block_packed(b bytea, INOUT pos int, count int,
                                                 OUT vals bigint[])
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  done int := 0;
  n int;
  header int;
  r int;
  q int;
  at bigint;
BEGIN
  vals := '{}';
  WHILE done < count LOOP
    n := least(count - done, 64);
    header := get_byte(b, pos);
    pos := pos + 1;
    at := pos::bigint * 8;
    IF header > 64 AND header < 128 THEN
      IF done + (header - 64) * 64 >= count THEN
        RAISE EXCEPTION 'corrupt block at byte %: a run of % zero blocks past the column''s % values',
          pos - 1, header - 63, count;
      END IF;
      n := least(count - done, (header - 63) * 64);
      vals := vals || array_fill(0::bigint, ARRAY[n]);
    ELSIF header <= 64 THEN
      FOR i IN 1..n LOOP
        vals := vals || metricsd_block_bits(b, at, header);
        at := at + header;
      END LOOP;
    ELSE
      r := header & 127;
      IF r > 63 THEN
        RAISE EXCEPTION 'corrupt block at byte %: Rice parameter % over 63', pos - 1, r;
      END IF;
      FOR i IN 1..n LOOP
        q := 0;
        WHILE q < 32 AND get_bit(b, at) = 1 LOOP
          q := q + 1;
          at := at + 1;
        END LOOP;
        IF q = 32 THEN
          vals := vals || metricsd_block_bits(b, at, 64);
          at := at + 64;
        ELSE
          vals := vals || ((q::bigint << r) | metricsd_block_bits(b, at + 1, r));
          at := at + 1 + r;
        END IF;
      END LOOP;
    END IF;
    pos := ((at + 7) >> 3)::int;
    done := done + n;
  END LOOP;
END $$;

-- Every sample of a sample block (versions 1 and 2), in stored order.
CREATE OR REPLACE FUNCTION metricsd_decode_samples(block bytea)
RETURNS TABLE (ts_ms bigint, value double precision)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  pos int;
  n bigint;
  ts bigint[];
  vals double precision[];
BEGIN
  IF get_byte(block, 0) NOT IN (1, 2) THEN
    RAISE EXCEPTION 'corrupt block at byte 0: unknown sample block version %', get_byte(block, 0);
  END IF;
  SELECT x.pos, x.v INTO pos, n FROM metricsd_block_uvarint(block, 1) x;
  IF n < 0 OR n > 1048576 THEN
    RAISE EXCEPTION 'corrupt block at byte 1: count % over the limit', n;
  END IF;
  SELECT x.pos, x.vals INTO pos, ts FROM metricsd_block_ints(block, pos, n::int) x;
  SELECT x.pos, x.vals INTO pos, vals FROM metricsd_block_doubles(block, pos, n::int) x;
  IF pos <> length(block) THEN
    RAISE EXCEPTION 'corrupt block at byte %: trailing bytes after the last column', pos;
  END IF;
  RETURN QUERY SELECT * FROM unnest(ts, vals);
END $$;

-- The `metrics` view reads a block as data || tail.
CREATE OR REPLACE VIEW metrics AS
  SELECT to_timestamp(c.t / 1000.0) AS time, s.metric, s.node_id AS node, s.labels, c.v AS value
  FROM chunks ch
  JOIN series s USING (series_id)
  CROSS JOIN LATERAL unnest(ch.ts_ms, ch.vals) AS c(t, v)
  UNION ALL
  SELECT to_timestamp(d.ts_ms / 1000.0), s.metric, s.node_id, s.labels, d.value
  FROM sample_blocks b
  JOIN series s USING (series_id)
  CROSS JOIN LATERAL metricsd_decode_samples(b.data || b.tail) AS d
  UNION ALL
  SELECT to_timestamp(u.t / 1000.0), s.metric, s.node_id, s.labels, u.v
  FROM inbox i
  CROSS JOIN LATERAL unnest(i.series_ids, i.ts_ms, i.vals) AS u(sid, t, v)
  JOIN series s ON s.series_id = u.sid;
