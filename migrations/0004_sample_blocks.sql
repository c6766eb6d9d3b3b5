-- The compressed block format (docs/storage-format.md): compacted samples as one block per
-- series and window, rollups as one block per series and window of buckets; and a decoder of
-- sample blocks in PL/pgSQL, so the `metrics` view and plain SQL read them on any
-- PostgreSQL without an extension.

-- Sample blocks: `data` holds the samples (times and values); n, last_ts_ms and last are
-- kept beside it so latest values and counts need no decoding. Blocks of one series may
-- overlap (late samples, blocks not yet merged): readers take every sample of each.
CREATE TABLE sample_blocks (
  series_id  bigint NOT NULL,
  start_ms   bigint NOT NULL,  -- the window [start_ms, end_ms) the samples lie in
  end_ms     bigint NOT NULL,
  last_ts_ms bigint NOT NULL,
  last       double precision NOT NULL,
  n          integer NOT NULL,
  data       bytea NOT NULL
) PARTITION BY RANGE (start_ms);
CREATE INDEX sample_blocks_series_start_idx ON sample_blocks (series_id, start_ms);

-- Rollup blocks, one table per tier: `data` holds the buckets' n, sum, min, max, last and
-- last time; n here counts buckets. A bucket may appear in several blocks (a window shorter
-- than the bucket, late samples): readers merge them.
CREATE TABLE rollup_1m_blocks (
  series_id bigint NOT NULL,
  start_ms  bigint NOT NULL,
  end_ms    bigint NOT NULL,
  n         integer NOT NULL,
  data      bytea NOT NULL
) PARTITION BY RANGE (start_ms);
CREATE INDEX rollup_1m_blocks_series_start_idx ON rollup_1m_blocks (series_id, start_ms);
CREATE TABLE rollup_1h_blocks (LIKE rollup_1m_blocks) PARTITION BY RANGE (start_ms);
CREATE INDEX rollup_1h_blocks_series_start_idx ON rollup_1h_blocks (series_id, start_ms);

-- Block partitions of closed days rewritten (VACUUM FULL) after their blocks were merged, so
-- the space of the merged-away blocks goes back to the file system (storage/block_merge).
-- A later merge of the same day (late samples) removes the row, and the day is packed again.
CREATE TABLE block_partitions_packed (
  relname   text PRIMARY KEY,
  packed_at timestamptz NOT NULL DEFAULT now()
);

-- Blocks over 2 kB go to TOAST; lz4 still finds 1.6 % in the packed bits of a day's block
-- (pglz none), so lz4 where this PostgreSQL has it (docs/storage-format.md).
DO $$
BEGIN
  ALTER TABLE sample_blocks ALTER COLUMN data SET COMPRESSION lz4;
  ALTER TABLE rollup_1m_blocks ALTER COLUMN data SET COMPRESSION lz4;
  ALTER TABLE rollup_1h_blocks ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'no lz4 in this PostgreSQL: blocks keep the default compression';
END $$;

CREATE OR REPLACE FUNCTION metricsd_ensure_partition(parent text, day_ms bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  lo bigint := day_ms - (((day_ms % 86400000) + 86400000) % 86400000);
  name text := parent || '_p' || to_char(to_timestamp(lo / 1000.0) AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
  IF parent NOT IN ('chunks', 'rollup_1m', 'rollup_1h', 'sample_blocks', 'rollup_1m_blocks',
                    'rollup_1h_blocks') THEN
    RAISE EXCEPTION 'not a partitioned sample table: %', parent;
  END IF;
  IF to_regclass(name) IS NULL THEN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)',
                   name, parent, lo, lo + 86400000);
  END IF;
END $$;

-- The decoder. 64-bit unsigned values travel as the bit pattern of a bigint; arithmetic on
-- them wraps modulo 2^64 as the C++ decoder's does. A corrupt block raises an error naming
-- what and where (get_byte past the end raises its own).

CREATE FUNCTION metricsd_block_wrap_add(a bigint, b bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE
    WHEN b > 0 AND a > 9223372036854775807 - b THEN (a::numeric + b - 18446744073709551616)::bigint
    WHEN b < 0 AND a < -9223372036854775808 - b THEN (a::numeric + b + 18446744073709551616)::bigint
    ELSE a + b END $$;

CREATE FUNCTION metricsd_block_unzigzag(u bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT ((u >> 1) & 9223372036854775807) # (-(u & 1)) $$;

-- `width` bits (0..64) at bit offset `at`, least significant first.
CREATE FUNCTION metricsd_block_bits(b bytea, at bigint, width int) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  v bigint := 0;
  got int := 0;
  sh int;
  take int;
BEGIN
  WHILE got < width LOOP
    sh := (at & 7)::int;
    take := least(width - got, 8 - sh);
    v := v | (((get_byte(b, (at >> 3)::int) >> sh) & ((1 << take) - 1))::bigint << got);
    got := got + take;
    at := at + take;
  END LOOP;
  RETURN v;
END $$;

CREATE FUNCTION metricsd_block_uvarint(b bytea, INOUT pos int, OUT v bigint)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  byte int;
  shift int := 0;
BEGIN
  v := 0;
  LOOP
    byte := get_byte(b, pos);
    pos := pos + 1;
    IF shift = 63 AND byte > 1 THEN
      RAISE EXCEPTION 'corrupt block at byte %: varint overflows 64 bits', pos - 1;
    END IF;
    v := v | ((byte & 127)::bigint << shift);
    EXIT WHEN byte < 128;
    shift := shift + 7;
    IF shift > 63 THEN
      RAISE EXCEPTION 'corrupt block at byte %: varint longer than 10 bytes', pos;
    END IF;
  END LOOP;
END $$;

-- `count` values of a packed stream (blocks of 64: bit-packed or Rice-coded).
CREATE FUNCTION metricsd_block_packed(b bytea, INOUT pos int, count int, OUT vals bigint[])
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
    IF header < 128 THEN
      IF header > 64 THEN
        RAISE EXCEPTION 'corrupt block at byte %: bit width % over 64', pos - 1, header;
      END IF;
      FOR i IN 1..n LOOP
        vals := vals || metricsd_block_bits(b, at, header);
        at := at + header;
      END LOOP;
    ELSE
      r := header & 127;
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

-- An integer column of `count` values.
CREATE FUNCTION metricsd_block_ints(b bytea, INOUT pos int, count int, OUT vals bigint[])
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  ord int;
  v bigint;
  d bigint;
  u bigint;
  z bigint[];
BEGIN
  vals := '{}';
  IF count = 0 THEN
    RETURN;
  END IF;
  ord := get_byte(b, pos);
  IF ord > 4 THEN
    RAISE EXCEPTION 'corrupt block at byte %: unknown integer column order %', pos, ord;
  END IF;
  SELECT x.pos, x.v INTO pos, u FROM metricsd_block_uvarint(b, pos + 1) x;
  v := metricsd_block_unzigzag(u);
  vals := vals || v;
  IF count = 1 THEN
    RETURN;
  END IF;
  IF ord = 2 THEN
    SELECT x.pos, x.v INTO pos, u FROM metricsd_block_uvarint(b, pos) x;
    d := metricsd_block_unzigzag(u);
    v := metricsd_block_wrap_add(v, d);
    vals := vals || v;
    SELECT x.pos, x.vals INTO pos, z FROM metricsd_block_packed(b, pos, count - 2) x;
    FOREACH u IN ARRAY z LOOP
      d := metricsd_block_wrap_add(d, metricsd_block_unzigzag(u));
      v := metricsd_block_wrap_add(v, d);
      vals := vals || v;
    END LOOP;
  ELSE
    SELECT x.pos, x.vals INTO pos, z FROM metricsd_block_packed(b, pos, count - 1) x;
    FOREACH u IN ARRAY z LOOP
      v := CASE ord WHEN 0 THEN metricsd_block_unzigzag(u)
                    WHEN 1 THEN metricsd_block_wrap_add(v, metricsd_block_unzigzag(u))
                    WHEN 3 THEN u
                    ELSE metricsd_block_wrap_add(v, u) END;
      vals := vals || v;
    END LOOP;
  END IF;
END $$;

-- The IEEE bits of a double, and the double of IEEE bits (NaN payloads become plain NaN:
-- PostgreSQL has one NaN).
CREATE FUNCTION metricsd_block_float_bits(x double precision) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  s bytea := float8send(x);
  v bigint := 0;
BEGIN
  FOR i IN 0..7 LOOP
    v := (v << 8) | get_byte(s, i);
  END LOOP;
  RETURN v;
END $$;

CREATE FUNCTION metricsd_block_bits_float(u bigint) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  e int := ((u >> 52) & 2047)::int;
  f bigint := u & 4503599627370495;
  v double precision;
BEGIN
  IF e = 2047 THEN
    RETURN CASE WHEN f <> 0 THEN 'NaN'::float8 WHEN u < 0 THEN '-Infinity'::float8
                ELSE 'Infinity'::float8 END;
  END IF;
  IF e = 0 THEN
    v := f::float8 * '4.9406564584124654e-324'::float8;  -- f * 2^-1074, exact
  ELSE
    v := (f + 4503599627370496)::float8 * power(2::float8, e - 1075);  -- exact
  END IF;
  RETURN CASE WHEN u < 0 THEN -v ELSE v END;
END $$;

-- A double column of `count` values.
CREATE FUNCTION metricsd_block_doubles(b bytea, INOUT pos int, count int,
                                       OUT vals double precision[])
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  k int;
  scale double precision;
  m bigint[];
  res bigint[];
  layout int;
  listed bigint;
  gap bigint;
  at int := 0;
  u bigint;
  a double precision;
BEGIN
  vals := '{}';
  IF count = 0 THEN
    RETURN;
  END IF;
  k := get_byte(b, pos);
  IF k > 15 THEN
    RAISE EXCEPTION 'corrupt block at byte %: decimals % over 15', pos, k;
  END IF;
  scale := ('1e' || k)::float8;
  SELECT x.pos, x.vals INTO pos, m FROM metricsd_block_ints(b, pos + 1, count) x;
  layout := get_byte(b, pos);
  pos := pos + 1;
  IF layout = 1 THEN
    SELECT x.pos, x.vals INTO pos, res FROM metricsd_block_packed(b, pos, count) x;
  ELSIF layout = 2 THEN
    SELECT x.pos, x.v INTO pos, listed FROM metricsd_block_uvarint(b, pos) x;
    IF listed < 1 OR listed > count THEN
      RAISE EXCEPTION 'corrupt block at byte %: residual list of %', pos, listed;
    END IF;
    res := array_fill(0::bigint, ARRAY[count]);
    FOR i IN 1..listed LOOP
      SELECT x.pos, x.v INTO pos, gap FROM metricsd_block_uvarint(b, pos) x;
      IF gap < 0 OR gap >= count - at OR (i > 1 AND gap = 0) THEN
        RAISE EXCEPTION 'corrupt block at byte %: residual index past the last value', pos;
      END IF;
      at := at + gap::int;
      SELECT x.pos, x.v INTO pos, u FROM metricsd_block_uvarint(b, pos) x;
      res[at + 1] := u;
    END LOOP;
  ELSIF layout <> 0 THEN
    RAISE EXCEPTION 'corrupt block at byte %: unknown residual layout %', pos - 1, layout;
  END IF;
  FOR i IN 1..count LOOP
    a := CASE WHEN k = 0 THEN m[i]::float8 ELSE m[i]::float8 / scale END;
    IF res IS NOT NULL AND res[i] <> 0 THEN
      a := metricsd_block_bits_float(metricsd_block_wrap_add(
             metricsd_block_float_bits(a), metricsd_block_unzigzag(res[i])));
    END IF;
    vals := vals || a;
  END LOOP;
END $$;

-- Every sample of a sample block, in stored order.
CREATE FUNCTION metricsd_decode_samples(block bytea)
RETURNS TABLE (ts_ms bigint, value double precision)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  pos int;
  n bigint;
  ts bigint[];
  vals double precision[];
BEGIN
  IF get_byte(block, 0) <> 1 THEN
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

-- Every stored sample, now also those in sample blocks. Filter on metric and node: a time
-- condition alone decodes every block.
CREATE OR REPLACE VIEW metrics AS
  SELECT to_timestamp(c.t / 1000.0) AS time, s.metric, s.node_id AS node, s.labels, c.v AS value
  FROM chunks ch
  JOIN series s USING (series_id)
  CROSS JOIN LATERAL unnest(ch.ts_ms, ch.vals) AS c(t, v)
  UNION ALL
  SELECT to_timestamp(d.ts_ms / 1000.0), s.metric, s.node_id, s.labels, d.value
  FROM sample_blocks b
  JOIN series s USING (series_id)
  CROSS JOIN LATERAL metricsd_decode_samples(b.data) AS d
  UNION ALL
  SELECT to_timestamp(u.t / 1000.0), s.metric, s.node_id, s.labels, u.v
  FROM inbox i
  CROSS JOIN LATERAL unnest(i.series_ids, i.ts_ms, i.vals) AS u(sid, t, v)
  JOIN series s ON s.series_id = u.sid;
