-- metrics_between(from, to [, metric [, node]]): the rows of the `metrics` view whose time
-- lies in [from, to] (both ends included, as SQL's BETWEEN and Grafana's $__timeFilter),
-- reading only the blocks, chunks and inbox rows whose time bounds overlap the range. The
-- view decodes every block before a time condition can apply, so its cost grows with all
-- stored data; this function's grows with the range.
--
-- A block's samples lie in [start_ms, end_ms) and a block never crosses a day, so
-- start_ms > from - 1 day also bounds the partitions scanned from below. A block is read
-- when it can hold a sample t with ceil(from) <= t <= floor(to) (in ms); the inbox's
-- bounds are widened by 1 ms each way; the exact condition is the view's own.
--
-- SECURITY DEFINER so a read-only role needs EXECUTE on it and nothing on the tables it
-- reads; EXECUTE is therefore not granted to PUBLIC (the daemon grants it to its SQL
-- reader role, database.embedded_sql_listen; on another database an admin grants it).
CREATE FUNCTION metrics_between(from_time timestamptz, to_time timestamptz,
                                metric_name text DEFAULT NULL, node_id text DEFAULT NULL)
RETURNS TABLE ("time" timestamptz, metric text, node text, labels jsonb, value double precision)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
  SELECT to_timestamp(c.t / 1000.0), s.metric, s.node_id, s.labels, c.v
  FROM chunks ch
  JOIN series s USING (series_id)
  CROSS JOIN LATERAL unnest(ch.ts_ms, ch.vals) AS c(t, v)
  WHERE ch.start_ms <= floor(extract(epoch FROM to_time) * 1000)::bigint
    AND ch.end_ms > ceil(extract(epoch FROM from_time) * 1000)::bigint
    AND (metric_name IS NULL OR s.metric = metric_name)
    AND (metrics_between.node_id IS NULL OR s.node_id = metrics_between.node_id)
    AND to_timestamp(c.t / 1000.0) BETWEEN from_time AND to_time
  UNION ALL
  SELECT to_timestamp(d.ts_ms / 1000.0), s.metric, s.node_id, s.labels, d.value
  FROM sample_blocks b
  JOIN series s USING (series_id)
  CROSS JOIN LATERAL metricsd_decode_samples(b.data || b.tail) AS d
  WHERE b.start_ms <= floor(extract(epoch FROM to_time) * 1000)::bigint
    AND b.start_ms > floor(extract(epoch FROM from_time) * 1000)::bigint - 1 - 86400000
    AND b.end_ms > ceil(extract(epoch FROM from_time) * 1000)::bigint
    AND (metric_name IS NULL OR s.metric = metric_name)
    AND (metrics_between.node_id IS NULL OR s.node_id = metrics_between.node_id)
    AND to_timestamp(d.ts_ms / 1000.0) BETWEEN from_time AND to_time
  UNION ALL
  SELECT to_timestamp(u.t / 1000.0), s.metric, s.node_id, s.labels, u.v
  FROM inbox i
  CROSS JOIN LATERAL unnest(i.series_ids, i.ts_ms, i.vals) AS u(sid, t, v)
  JOIN series s ON s.series_id = u.sid
  -- Rows written before migration 0002 have no bounds (0, 0).
  WHERE ((i.min_ts_ms <= ceil(extract(epoch FROM to_time) * 1000)::bigint + 1
          AND i.max_ts_ms >= floor(extract(epoch FROM from_time) * 1000)::bigint - 1)
         OR i.max_ts_ms = 0)
    AND (metric_name IS NULL OR s.metric = metric_name)
    AND (metrics_between.node_id IS NULL OR s.node_id = metrics_between.node_id)
    AND to_timestamp(u.t / 1000.0) BETWEEN from_time AND to_time
$$;
REVOKE EXECUTE ON FUNCTION metrics_between(timestamptz, timestamptz, text, text) FROM PUBLIC;
