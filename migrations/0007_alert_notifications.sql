-- Alert notifications (README "Alerts"): where they go (receivers), what keeps them quiet
-- (silences, acknowledgements) and every notification with its outcome (an outbox: a row
-- is written with the transition that causes it, in the same transaction, and delivered
-- from there, so a restart neither loses nor repeats one).
CREATE TABLE alert_receivers (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name       text NOT NULL UNIQUE,
  spec       jsonb NOT NULL,  -- kind, url/headers/secret or to, filters (server/alert_receiver)
  enabled    boolean NOT NULL DEFAULT true,
  version    integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL DEFAULT '',
  source     text NOT NULL DEFAULT 'api'  -- the shape of alert_rules (storage/alert_store)
);

-- Where a rule came from: the API, or the rules file named by alerts.rules_file (such a
-- rule is changed through the file only).
ALTER TABLE alert_rules ADD COLUMN source text NOT NULL DEFAULT 'api';

CREATE TABLE alert_silences (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  matchers   jsonb NOT NULL,  -- {"rule": glob, "node": glob, "severity": name}, all optional
  starts_at  timestamptz NOT NULL,
  ends_at    timestamptz NOT NULL,
  comment    text NOT NULL DEFAULT '',
  created_by text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_silences_ends_idx ON alert_silences (ends_at);

ALTER TABLE alerts_active
  ADD COLUMN acknowledged_by text NOT NULL DEFAULT '',
  ADD COLUMN acknowledged_at timestamptz,
  ADD COLUMN notified boolean NOT NULL DEFAULT false;  -- a receiver was told of this episode

ALTER TABLE alert_history ADD COLUMN detail text NOT NULL DEFAULT '';  -- acknowledged: by, comment
CREATE INDEX alert_history_node_idx ON alert_history (node_id, id);

CREATE TABLE alert_notifications (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  history_id    bigint NOT NULL REFERENCES alert_history (id) ON DELETE CASCADE,
  receiver_id   bigint REFERENCES alert_receivers (id) ON DELETE SET NULL,
  receiver_name text NOT NULL,
  -- queued (to deliver), sent, failed (gave up), silenced, cooldown, dropped (queue full)
  state         text NOT NULL,
  attempts      integer NOT NULL DEFAULT 0,
  detail        text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  done_at       timestamptz
);
CREATE INDEX alert_notifications_history_idx ON alert_notifications (history_id);
CREATE INDEX alert_notifications_queued_idx ON alert_notifications (id) WHERE state = 'queued';
