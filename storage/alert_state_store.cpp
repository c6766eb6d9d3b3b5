// Alert state in SQL; see alert_state_store.hpp.
#include "storage/alert_state_store.hpp"

#include <fmt/format.h>

#include <cmath>

namespace metricsd::storage {
namespace {

// A value as text, empty for none: NaN and infinities are stored as NULL.
std::string value_text(double v) {
  return std::isfinite(v) ? fmt::format("{}", v) : "";
}

double value_from(const pqxx::field& f) {
  return f.is_null() ? std::nan("") : f.as<double>();
}

constexpr const char* kMs = "(extract(epoch FROM {}) * 1000)::bigint";

}  // namespace

std::vector<int64_t> record_alert_transitions(pqxx::connection& c,
                                              const std::vector<AlertTransition>& ts,
                                              const std::vector<PlannedNotification>& planned) {
  std::vector<int64_t> ids;
  if (ts.empty()) return ids;
  pqxx::work tx(c);
  std::vector<int64_t> history(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    const AlertTransition& t = ts[i];
    std::string value = value_text(t.value);
    // A rule deleted meanwhile: its history is kept without the reference.
    history[i] =
        tx.exec_params(
              "INSERT INTO alert_history (ts, rule_id, rule_name, node_id, event, severity, "
              "value) VALUES (to_timestamp($1 / 1000.0), (SELECT id FROM alert_rules WHERE id = "
              "$2), $3, $4, $5, $6, NULLIF($7, '')::double precision) RETURNING id",
              t.ts_ms, t.rule_id, t.rule, t.node, t.event, t.severity, value)[0][0]
            .as<int64_t>();
    if (t.event == "resolved") {
      tx.exec_params("DELETE FROM alerts_active WHERE rule_id = $1 AND node_id = $2", t.rule_id,
                     t.node);
    } else {
      // A new episode (pending, or firing from nothing) starts unacknowledged and unnotified.
      tx.exec_params(
          "INSERT INTO alerts_active (rule_id, node_id, state, severity, value, since, "
          "changed_at) SELECT id, $2, $3, $4, NULLIF($5, '')::double precision, "
          "to_timestamp($6 / 1000.0), to_timestamp($6 / 1000.0) FROM alert_rules WHERE id = $1 "
          "ON CONFLICT (rule_id, node_id) DO UPDATE SET "
          "state = EXCLUDED.state, severity = EXCLUDED.severity, value = EXCLUDED.value, "
          "since = CASE WHEN alerts_active.state = EXCLUDED.state THEN alerts_active.since "
          "ELSE EXCLUDED.since END, changed_at = EXCLUDED.changed_at",
          t.rule_id, t.node, t.event == "pending" ? "pending" : "firing", t.severity, value,
          t.ts_ms);
    }
  }
  for (const auto& p : planned) {
    const AlertTransition& t = ts[p.transition];
    ids.push_back(tx.exec_params("INSERT INTO alert_notifications (history_id, receiver_id, "
                                 "receiver_name, state, detail, done_at) VALUES ($1, (SELECT id "
                                 "FROM alert_receivers WHERE id = $2), $3, $4, $5, "
                                 "CASE WHEN $4 = 'queued' THEN NULL ELSE now() END) RETURNING id",
                                 history[p.transition], p.receiver_id, p.receiver_name, p.state,
                                 p.detail)[0][0]
                      .as<int64_t>());
    if (p.state == "queued" && t.event != "resolved")
      tx.exec_params("UPDATE alerts_active SET notified = true WHERE rule_id = $1 AND node_id = $2",
                     t.rule_id, t.node);
  }
  tx.commit();
  return ids;
}

std::vector<ActiveAlertRow> load_active_alerts(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  std::vector<ActiveAlertRow> out;
  for (const auto& r : tx.exec(
           fmt::format("SELECT a.rule_id, r.name, a.node_id, a.state, a.severity, a.value, {}, {}, "
                       "a.acknowledged_by, coalesce({}, 0), a.notified "
                       "FROM alerts_active a JOIN alert_rules r ON r.id = a.rule_id "
                       "ORDER BY a.rule_id, a.node_id",
                       fmt::format(kMs, "a.since"), fmt::format(kMs, "a.changed_at"),
                       fmt::format(kMs, "a.acknowledged_at")))) {
    ActiveAlertRow row;
    row.a = {r[0].as<int64_t>(),     r[1].as<std::string>(), r[2].as<std::string>(),
             r[3].as<std::string>(), r[4].as<std::string>(), value_from(r[5]),
             r[6].as<int64_t>(),     r[7].as<int64_t>()};
    row.acknowledged_by = r[8].as<std::string>();
    row.acknowledged_ms = r[9].as<int64_t>();
    row.notified = r[10].as<bool>();
    out.push_back(std::move(row));
  }
  return out;
}

bool acknowledge_alert(pqxx::connection& c, int64_t rule_id, const std::string& node,
                       const std::string& by, const std::string& comment) {
  pqxx::work tx(c);
  auto r = tx.exec_params(
      "UPDATE alerts_active a SET acknowledged_by = $3, acknowledged_at = now() "
      "FROM alert_rules r WHERE a.rule_id = $1 AND a.node_id = $2 AND r.id = a.rule_id "
      "RETURNING r.name, a.severity, a.value",
      rule_id, node, by);
  if (r.empty()) return false;
  std::string detail = comment.empty() ? "by " + by : "by " + by + ": " + comment;
  tx.exec_params(
      "INSERT INTO alert_history (ts, rule_id, rule_name, node_id, event, severity, value, "
      "detail) VALUES (now(), $1, $2, $3, 'acknowledged', $4, $5, $6)",
      rule_id, r[0][0].as<std::string>(), node, r[0][1].as<std::string>(),
      r[0][2].is_null() ? std::optional<double>() : std::optional<double>(r[0][2].as<double>()),
      detail);
  tx.commit();
  return true;
}

std::vector<AlertHistoryRow> list_alert_history(pqxx::connection& c, int64_t rule,
                                                const std::string& node, int64_t before,
                                                int limit) {
  pqxx::nontransaction tx(c);
  std::vector<AlertHistoryRow> out;
  for (const auto& r :
       tx.exec_params(fmt::format("SELECT id, {}, coalesce(rule_id, 0), rule_name, node_id, event, "
                                  "severity, value, detail FROM alert_history "
                                  "WHERE ($1 = 0 OR rule_id = $1) AND ($2 = '' OR node_id = $2) "
                                  "AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4",
                                  fmt::format(kMs, "ts")),
                      rule, node, before, limit)) {
    AlertHistoryRow h;
    h.id = r[0].as<int64_t>();
    h.t = {r[2].as<int64_t>(),     r[3].as<std::string>(), r[4].as<std::string>(),
           r[5].as<std::string>(), r[6].as<std::string>(), value_from(r[7]),
           r[1].as<int64_t>()};
    h.detail = r[8].as<std::string>();
    out.push_back(std::move(h));
  }
  if (out.empty()) return out;
  std::map<int64_t, AlertHistoryRow*> by_id;
  for (auto& h : out)
    by_id[h.id] = &h;
  for (const auto& r : tx.exec_params(
           fmt::format("SELECT history_id, receiver_name, state, attempts, detail, "
                       "coalesce({}, 0) FROM alert_notifications WHERE history_id BETWEEN $1 AND "
                       "$2 ORDER BY id",
                       fmt::format(kMs, "done_at")),
           out.back().id, out.front().id)) {
    auto it = by_id.find(r[0].as<int64_t>());
    if (it == by_id.end()) continue;
    it->second->notifications.push_back({r[1].as<std::string>(), r[2].as<std::string>(),
                                         r[3].as<int>(), r[4].as<std::string>(),
                                         r[5].as<int64_t>()});
  }
  return out;
}

std::vector<std::pair<int64_t, AlertNotification>> load_queued_notifications(pqxx::connection& c,
                                                                             int limit) {
  pqxx::nontransaction tx(c);
  std::vector<std::pair<int64_t, AlertNotification>> out;
  for (const auto& r : tx.exec_params(
           fmt::format("SELECT n.id, n.receiver_id, coalesce(h.rule_id, 0), h.rule_name, "
                       "h.node_id, h.event, h.severity, h.value, {}, "
                       "coalesce(r.spec->>'description', '') FROM alert_notifications n "
                       "JOIN alert_history h ON h.id = n.history_id "
                       "LEFT JOIN alert_rules r ON r.id = h.rule_id "
                       "WHERE n.state = 'queued' ORDER BY n.id LIMIT $1",
                       fmt::format(kMs, "h.ts")),
           limit)) {
    AlertNotification n;
    n.id = r[0].as<int64_t>();
    n.t = {r[2].as<int64_t>(),     r[3].as<std::string>(), r[4].as<std::string>(),
           r[5].as<std::string>(), r[6].as<std::string>(), value_from(r[7]),
           r[8].as<int64_t>()};
    n.description = r[9].as<std::string>();
    out.emplace_back(r[1].is_null() ? 0 : r[1].as<int64_t>(), std::move(n));
  }
  return out;
}

void record_notification_outcome(pqxx::connection& c, int64_t id, const std::string& state,
                                 int attempts, const std::string& detail) {
  pqxx::nontransaction tx(c);
  tx.exec_params(
      "UPDATE alert_notifications SET state = $2, attempts = $3, detail = $4, done_at = now() "
      "WHERE id = $1",
      id, state, attempts, detail);
}

std::map<std::pair<int64_t, std::string>, int64_t> load_recent_firings(pqxx::connection& c,
                                                                       int64_t since_ms) {
  pqxx::nontransaction tx(c);
  std::map<std::pair<int64_t, std::string>, int64_t> out;
  for (const auto& r : tx.exec_params(
           fmt::format("SELECT h.rule_id, h.node_id, max({}) FROM alert_notifications n "
                       "JOIN alert_history h ON h.id = n.history_id "
                       "WHERE h.event = 'firing' AND n.state NOT IN ('silenced', 'cooldown') "
                       "AND h.rule_id IS NOT NULL AND h.ts >= to_timestamp($1 / 1000.0) "
                       "GROUP BY 1, 2",
                       fmt::format(kMs, "h.ts")),
           since_ms))
    out[{r[0].as<int64_t>(), r[1].as<std::string>()}] = r[2].as<int64_t>();
  return out;
}

}  // namespace metricsd::storage
