// Node and event SQL; see node_store.hpp.
#include "storage/node_store.hpp"

#include <nlohmann/json.hpp>

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

}  // namespace

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

}  // namespace metricsd::storage
