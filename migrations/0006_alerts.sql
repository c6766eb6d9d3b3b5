-- Alerts (README "Alerts"): the rules, the alerts pending or firing now (one per rule and
-- node, what a restart resumes from), and their history.
CREATE TABLE alert_rules (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name       text NOT NULL UNIQUE,
  spec       jsonb NOT NULL,  -- the rule as given (core/alert_rule.hpp reads it)
  enabled    boolean NOT NULL DEFAULT true,
  version    integer NOT NULL DEFAULT 1,  -- +1 at every change
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL DEFAULT ''
);

CREATE TABLE alerts_active (
  rule_id    bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
  node_id    text NOT NULL,
  state      text NOT NULL,  -- pending or firing
  severity   text NOT NULL,
  value      double precision,
  since      timestamptz NOT NULL,
  changed_at timestamptz NOT NULL,
  PRIMARY KEY (rule_id, node_id)
);

CREATE TABLE alert_history (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts        timestamptz NOT NULL,
  rule_id   bigint REFERENCES alert_rules (id) ON DELETE SET NULL,
  rule_name text NOT NULL,
  node_id   text NOT NULL,
  event     text NOT NULL,  -- pending, firing, escalated, resolved
  severity  text NOT NULL,
  value     double precision
);
CREATE INDEX alert_history_rule_idx ON alert_history (rule_id, id);
