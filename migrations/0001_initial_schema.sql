-- metricsd initial schema: the fleet registry, the series registry, the three-tier sample
-- store (inbox -> chunks -> rollups), events, commands, tokens and the audit log.
-- Every large table is keyed by series_id so a distributed PostgreSQL can shard it.
-- Times inside the sample store are unix milliseconds (bigint); times on entities are
-- timestamptz.

-- Nodes: one row per machine that ever sent a heartbeat or a sample.
CREATE TABLE nodes (
  node_id     text PRIMARY KEY,
  type        text        NOT NULL DEFAULT '',
  hostname    text        NOT NULL DEFAULT '',
  labels      jsonb       NOT NULL DEFAULT '{}',
  state       jsonb       NOT NULL DEFAULT '{}',
  info        jsonb       NOT NULL DEFAULT '{}',
  interval_s  double precision,
  status      text        NOT NULL DEFAULT 'online'
              CHECK (status IN ('online', 'stale', 'offline')),
  first_seen  timestamptz NOT NULL DEFAULT now(),
  last_seen   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nodes_status_idx ON nodes (status);

-- Series: (metric, node, labels) -> series_id. labels_key is the canonical (sorted,
-- escaped) text of labels, so uniqueness does not depend on jsonb key order.
CREATE TABLE series (
  series_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  metric      text        NOT NULL,
  category    text        NOT NULL,
  node_id     text        NOT NULL,
  labels      jsonb       NOT NULL DEFAULT '{}',
  labels_key  text        NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (metric, node_id, labels_key)
);
CREATE INDEX series_node_idx ON series (node_id);
CREATE INDEX series_category_idx ON series (category, metric);

-- Inbox: the write-ahead log. Each group commit writes its samples as one row of
-- parallel arrays; compaction moves them into chunks and deletes the row in the same
-- transaction.
CREATE TABLE inbox (
  batch_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  committed_at timestamptz NOT NULL DEFAULT now(),
  series_ids   bigint[]    NOT NULL,
  ts_ms        bigint[]    NOT NULL,
  vals         double precision[] NOT NULL,
  CHECK (cardinality(series_ids) = cardinality(ts_ms)
         AND cardinality(ts_ms) = cardinality(vals))
);

-- Chunks: one row per series and closed time window, samples as sorted arrays plus the
-- window's aggregates. Partitioned by day of start_ms; retention drops partitions.
CREATE TABLE chunks (
  series_id  bigint NOT NULL,
  start_ms   bigint NOT NULL,
  end_ms     bigint NOT NULL,
  ts_ms      bigint[] NOT NULL,
  vals       double precision[] NOT NULL,
  n          integer NOT NULL,
  sum        double precision NOT NULL,
  min        double precision NOT NULL,
  max        double precision NOT NULL,
  last       double precision NOT NULL,
  last_ts_ms bigint NOT NULL
) PARTITION BY RANGE (start_ms);
CREATE INDEX chunks_series_start_idx ON chunks (series_id, start_ms);

-- Rollups: per-series aggregates per minute and per hour, each partitioned by day.
CREATE TABLE rollup_1m (
  series_id  bigint NOT NULL,
  bucket_ms  bigint NOT NULL,
  n          integer NOT NULL,
  sum        double precision NOT NULL,
  min        double precision NOT NULL,
  max        double precision NOT NULL,
  last       double precision NOT NULL,
  last_ts_ms bigint NOT NULL,
  PRIMARY KEY (series_id, bucket_ms)
) PARTITION BY RANGE (bucket_ms);

CREATE TABLE rollup_1h (
  series_id  bigint NOT NULL,
  bucket_ms  bigint NOT NULL,
  n          integer NOT NULL,
  sum        double precision NOT NULL,
  min        double precision NOT NULL,
  max        double precision NOT NULL,
  last       double precision NOT NULL,
  last_ts_ms bigint NOT NULL,
  PRIMARY KEY (series_id, bucket_ms)
) PARTITION BY RANGE (bucket_ms);

-- Creates the daily partition of `parent` holding day_ms (any time in that UTC day) if
-- it does not exist. Partition names are <parent>_pYYYYMMDD.
CREATE FUNCTION metricsd_ensure_partition(parent text, day_ms bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  lo bigint := day_ms - (((day_ms % 86400000) + 86400000) % 86400000);
  name text := parent || '_p' || to_char(to_timestamp(lo / 1000.0) AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
  IF parent NOT IN ('chunks', 'rollup_1m', 'rollup_1h') THEN
    RAISE EXCEPTION 'not a partitioned sample table: %', parent;
  END IF;
  IF to_regclass(name) IS NULL THEN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)',
                   name, parent, lo, lo + 86400000);
  END IF;
END $$;

-- Events: node status transitions and other fleet happenings, newest first by id.
CREATE TABLE events (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts       timestamptz NOT NULL DEFAULT now(),
  node_id  text,
  type     text        NOT NULL,
  data     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX events_ts_idx ON events (ts);
CREATE INDEX events_node_ts_idx ON events (node_id, ts);

-- Commands sent to nodes, delivered in heartbeat answers and acknowledged by the node.
CREATE TABLE commands (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  node_id      text        NOT NULL,
  type         text        NOT NULL,
  args         jsonb       NOT NULL DEFAULT '{}',
  status       text        NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'delivered', 'done', 'failed')),
  message      text        NOT NULL DEFAULT '',
  created_by   text        NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  acked_at     timestamptz
);
CREATE INDEX commands_node_status_idx ON commands (node_id, status);

-- API tokens: only the SHA-256 of the secret is stored.
CREATE TABLE tokens (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         text        NOT NULL,
  role         text        NOT NULL CHECK (role IN ('admin', 'operator', 'viewer', 'agent')),
  secret_hash  text        NOT NULL UNIQUE,  -- SHA-256 hex of the secret
  node_id      text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);

-- Audit log: who did what, when, from where. Never holds secrets.
CREATE TABLE audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts          timestamptz NOT NULL DEFAULT now(),
  token_id    bigint,
  token_name  text        NOT NULL DEFAULT '',
  source_addr text        NOT NULL DEFAULT '',
  action      text        NOT NULL,
  target      text        NOT NULL DEFAULT '',
  outcome     text        NOT NULL DEFAULT 'ok',
  details     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_ts_idx ON audit_log (ts);

-- Runtime settings changed through the API (they override the file/env/flags).
CREATE TABLE runtime_settings (
  name       text PRIMARY KEY,
  value      jsonb       NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Everything stored, one row per sample, for Grafana's PostgreSQL source and plain SQL.
CREATE VIEW metrics AS
  SELECT to_timestamp(c.t / 1000.0) AS time, s.metric, s.node_id AS node, s.labels, c.v AS value
  FROM chunks ch
  JOIN series s USING (series_id)
  CROSS JOIN LATERAL unnest(ch.ts_ms, ch.vals) AS c(t, v)
  UNION ALL
  SELECT to_timestamp(u.t / 1000.0), s.metric, s.node_id, s.labels, u.v
  FROM inbox i
  CROSS JOIN LATERAL unnest(i.series_ids, i.ts_ms, i.vals) AS u(sid, t, v)
  JOIN series s ON s.series_id = u.sid;
