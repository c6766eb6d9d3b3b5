// Node and event SQL; see node_store.hpp.
#include "storage/node_store.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "core/time_parse.hpp"

namespace metricsd::storage {
namespace {

constexpr const char* kLiveness =
    "SELECT node_id, status, extract(epoch FROM now() - last_seen)::float8, interval_s, "
    "(extract(epoch FROM last_seen) * 1000)::bigint FROM nodes";
constexpr const char* kTransition =
    "UPDATE nodes SET status = $3 WHERE node_id = $1 AND status = $2";
constexpr const char* kInsertEvent =
    "INSERT INTO events (node_id, type, data) VALUES ($1, 'node_status', $2::jsonb)";
constexpr const char* kListEvents = R"(
SELECT id, (extract(epoch FROM ts) * 1000)::bigint, COALESCE(node_id, ''), type, data::text
FROM events
WHERE ($1::text IS NULL OR node_id = $1)
  AND ($2::text IS NULL OR type = $2)
  AND ($3::bigint IS NULL OR ts >= to_timestamp($3 / 1000.0))
  AND ($4::bigint IS NULL OR ts < to_timestamp($4 / 1000.0))
  AND ($5::bigint IS NULL OR id < $5)
ORDER BY id DESC
LIMIT $6)";

// Heartbeat: lock the node row (if any) to read its previous status, upsert it, and
// record a transition.
constexpr const char* kLockNode = "SELECT status FROM nodes WHERE node_id = $1 FOR UPDATE";
constexpr const char* kUpsertNode = R"(
INSERT INTO nodes AS n (node_id, type, hostname, labels, state, info, interval_s, status,
                        first_seen, last_seen)
VALUES ($1, COALESCE($2, ''), COALESCE($3, ''), COALESCE($4::jsonb, '{}'),
        COALESCE($5::jsonb, '{}'), COALESCE($6::jsonb, '{}'), $7, 'online', now(), now())
ON CONFLICT (node_id) DO UPDATE SET
  type = COALESCE($2, n.type),
  hostname = COALESCE($3, n.hostname),
  labels = COALESCE($4::jsonb, n.labels),
  state = COALESCE($5::jsonb, n.state),
  info = COALESCE($6::jsonb, n.info),
  interval_s = COALESCE($7, n.interval_s),
  status = 'online', last_seen = now())";
constexpr const char* kNodeEvent =
    "INSERT INTO events (node_id, type, data) VALUES ($1, $2, $3::jsonb)";
// An event the node reported, unless the same one is stored already (found through
// events_node_ts_idx; jsonb compares data by value, not by text).
constexpr const char* kReportedEvent = R"(
INSERT INTO events (ts, node_id, type, data)
SELECT to_timestamp($2::bigint / 1000.0), $1, $3, $4::jsonb
WHERE NOT EXISTS (SELECT 1 FROM events
                  WHERE node_id = $1 AND ts = to_timestamp($2::bigint / 1000.0)
                    AND type = $3 AND data = $4::jsonb))";
// A heartbeat's samples: one inbox row, as the group commit writer writes them (text
// arrays: a heartbeat carries tens of samples, not the writer's millions).
constexpr const char* kInsertInbox =
    "INSERT INTO inbox (series_ids, ts_ms, vals, min_ts_ms, max_ts_ms, n) "
    "VALUES ($1::bigint[], $2::bigint[], $3::float8[], $4, $5, $6)";
constexpr const char* kTakeCommands = R"(
UPDATE commands SET status = 'delivered', delivered_at = now()
WHERE node_id = $1 AND status = 'pending'
RETURNING id, type, args::text, (extract(epoch FROM created_at) * 1000)::bigint)";

// The node listing. $3 is a JSON array of [key, value] pairs, every one of which must be
// among the node's labels (an empty array matches every node). Times are truncated to
// the millisecond, never rounded up. node_id sorts bytewise, whatever the collation.
constexpr const char* kListNodes = R"(
SELECT node_id, type, hostname, labels::text, state::text, status,
       floor(extract(epoch FROM first_seen) * 1000)::bigint,
       floor(extract(epoch FROM last_seen) * 1000)::bigint, interval_s
FROM nodes AS n
WHERE ($1::text IS NULL OR n.status = $1)
  AND ($2::text IS NULL OR n.type = $2)
  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements($3::jsonb) AS want(pair)
                  WHERE n.labels ->> (want.pair ->> 0) IS DISTINCT FROM want.pair ->> 1)
ORDER BY node_id COLLATE "C")";
constexpr const char* kGetNode = R"(
SELECT node_id, type, hostname, labels::text, state::text, status,
       floor(extract(epoch FROM first_seen) * 1000)::bigint,
       floor(extract(epoch FROM last_seen) * 1000)::bigint, interval_s, info::text
FROM nodes WHERE node_id = $1)";
constexpr const char* kCountNodes = "SELECT status, count(*) FROM nodes GROUP BY status";

// The columns kListNodes and kGetNode share, in their order.
NodeRow node_row(const pqxx::row& row) {
  NodeRow n;
  n.node_id = row[0].as<std::string>();
  n.type = row[1].as<std::string>();
  n.hostname = row[2].as<std::string>();
  n.labels_json = row[3].as<std::string>();
  n.state_json = row[4].as<std::string>();
  n.status = row[5].as<std::string>();
  n.first_seen_ms = row[6].as<int64_t>();
  n.last_seen_ms = row[7].as<int64_t>();
  if (!row[8].is_null()) n.interval_s = row[8].as<double>();
  return n;
}

// A PostgreSQL array literal: "{1,2,3}". Doubles print in their shortest form that reads
// back exactly.
template <class T>
std::string array_text(const std::vector<T>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(v[i]))
        out += "NaN";
      else if (std::isinf(v[i]))
        out += v[i] > 0 ? "Infinity" : "-Infinity";
      else
        out += fmt::format("{}", v[i]);
    } else {
      out += std::to_string(v[i]);
    }
  }
  out += '}';
  return out;
}

}  // namespace

HeartbeatCommit commit_heartbeat(pqxx::connection& c, const HeartbeatUpdate& u,
                                 const SampleRows& samples) {
  HeartbeatCommit out;
  pqxx::work tx(c);
  if (samples.size() > 0) {
    auto [lo, hi] = std::minmax_element(samples.ts_ms.begin(), samples.ts_ms.end());
    tx.exec_params(kInsertInbox, array_text(samples.series_ids), array_text(samples.ts_ms),
                   array_text(samples.values), *lo, *hi, static_cast<int64_t>(samples.size()));
  }
  auto old = tx.exec_params(kLockNode, u.node_id);
  out.previous_status = old.empty() ? "" : old[0][0].as<std::string>();
  tx.exec_params(kUpsertNode, u.node_id, u.type, u.hostname, u.labels_json, u.state_json,
                 u.info_json, u.interval_s);
  if (!out.previous_status.empty() && out.previous_status != "online") {
    nlohmann::json data = {{"from", out.previous_status}, {"to", "online"}};
    tx.exec_params(kNodeEvent, u.node_id, "node_status", data.dump());
  } else if (out.previous_status.empty()) {
    nlohmann::json data = {{"from", "new"}, {"to", "online"}};
    tx.exec_params(kNodeEvent, u.node_id, "node_registered", data.dump());
  }
  // After the upsert, which holds the node's row lock until COMMIT (see the header).
  for (const auto& e : u.events) {
    auto r = tx.exec_params(kReportedEvent, u.node_id, e.ts_ms, e.type, e.data_json);
    if (r.affected_rows() == 1) out.stored_events.push_back(e);  // else stored before
  }
  for (const auto& row : tx.exec_params(kTakeCommands, u.node_id))
    out.commands.push_back({row[0].as<int64_t>(), row[1].as<std::string>(),
                            row[2].as<std::string>(), row[3].as<int64_t>()});
  tx.commit();
  return out;
}

std::vector<NodeLiveness> load_node_liveness(pqxx::connection& c) {
  std::vector<NodeLiveness> out;
  pqxx::nontransaction tx(c);
  for (const auto& row : tx.exec(kLiveness)) {
    NodeLiveness n;
    n.node_id = row[0].as<std::string>();
    n.status = row[1].as<std::string>();
    n.age_s = row[2].as<double>();
    if (!row[3].is_null()) n.interval_s = row[3].as<double>();
    n.last_seen_ms = row[4].as<int64_t>();
    out.push_back(std::move(n));
  }
  return out;
}

bool record_status_transition(pqxx::connection& c, const NodeLiveness& node,
                              const std::string& to) {
  pqxx::work tx(c);
  if (tx.exec_params(kTransition, node.node_id, node.status, to).affected_rows() == 0) return false;
  nlohmann::json data = {
      {"from", node.status}, {"to", to}, {"last_seen", format_rfc3339_ms(node.last_seen_ms)}};
  tx.exec_params(kInsertEvent, node.node_id, data.dump());
  tx.commit();
  return true;
}

std::vector<EventRow> list_events(pqxx::connection& c, const EventFilter& f) {
  pqxx::nontransaction tx(c);
  std::vector<EventRow> out;
  auto r = tx.exec_params(kListEvents, f.node, f.type, f.from_ms, f.to_ms, f.before_id, f.limit);
  for (const auto& row : r)
    out.push_back({row[0].as<int64_t>(), row[1].as<int64_t>(), row[2].as<std::string>(),
                   row[3].as<std::string>(), row[4].as<std::string>()});
  return out;
}

std::vector<NodeRow> list_nodes(pqxx::connection& c, const NodeFilter& f) {
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& [k, v] : f.labels)
    pairs.push_back({k, v});
  pqxx::nontransaction tx(c);
  std::vector<NodeRow> out;
  for (const auto& row : tx.exec_params(kListNodes, f.status, f.type, pairs.dump()))
    out.push_back(node_row(row));
  return out;
}

std::optional<NodeRow> get_node(pqxx::connection& c, const std::string& node_id) {
  pqxx::nontransaction tx(c);
  auto r = tx.exec_params(kGetNode, node_id);
  if (r.empty()) return std::nullopt;
  NodeRow n = node_row(r[0]);
  n.info_json = r[0][9].as<std::string>();
  return n;
}

NodeCounts count_nodes_by_status(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  NodeCounts out;
  for (const auto& row : tx.exec(kCountNodes)) {
    auto status = row[0].as<std::string>();
    int64_t* slot = status == "online"    ? &out.online
                    : status == "stale"   ? &out.stale
                    : status == "offline" ? &out.offline
                                          : nullptr;
    if (slot) *slot = row[1].as<int64_t>();  // the CHECK constraint allows no other status
  }
  return out;
}

}  // namespace metricsd::storage
