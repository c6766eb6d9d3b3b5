// SQL over nodes and events: the status monitor's reads and transitions, the events
// listing, and the node listing behind /api/v1/nodes and /api/v1/summary. Every
// function runs on a storage thread.
#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "core/committed_batch.hpp"

namespace metricsd::storage {

struct NodeLiveness {
  std::string node_id;
  std::string status;
  double age_s = 0;  // since last_seen, by the database's clock
  std::optional<double> interval_s;
  int64_t last_seen_ms = 0;
};

std::vector<NodeLiveness> load_node_liveness(pqxx::connection& c);

// Moves the node from `from` to `to` and records a node_status event, unless another
// daemon (or a heartbeat) changed it first. True when this call made the transition.
bool record_status_transition(pqxx::connection& c, const NodeLiveness& node, const std::string& to);

// What a heartbeat says about its node; fields not sent stay as they were. `events` are
// the node's own (their `node` is node_id).
struct HeartbeatUpdate {
  std::string node_id;
  std::optional<std::string> type, hostname, labels_json, state_json, info_json;
  std::optional<double> interval_s;
  std::vector<NodeEvent> events;
};

struct PendingCommand {
  int64_t id = 0;
  std::string type;
  std::string args_json;
  int64_t created_ms = 0;
};

// What a committed heartbeat yields: the node's pending commands (now marked delivered),
// its status before ("" for a node seen for the first time), and those of its events that
// were stored (not already there), in the heartbeat's order.
struct HeartbeatCommit {
  std::vector<PendingCommand> commands;
  std::string previous_status;
  std::vector<NodeEvent> stored_events;
};

// A heartbeat as one unit, in one transaction: its samples as one inbox row (when there
// are any), the node upserted as online (an event when it was not), its events, its
// pending commands handed out. Either all of it commits or none of it does. An event
// identical to one already stored (same node, type, ts and data: a retried heartbeat's)
// is skipped; the node's row lock, taken before, makes two retries in flight at once wait
// for each other, so the second sees the first's events.
HeartbeatCommit commit_heartbeat(pqxx::connection& c, const HeartbeatUpdate& u,
                                 const SampleRows& samples);

struct EventFilter {
  std::optional<std::string> node;
  std::optional<std::string> type;
  std::optional<int64_t> from_ms, to_ms;  // [from, to)
  std::optional<int64_t> before_id;       // the cursor: events older than this id
  int limit = 100;
};

struct EventRow {
  int64_t id = 0;
  int64_t ts_ms = 0;
  std::string node;  // empty when not about a node
  std::string type;
  std::string data_json;
};

// Newest first.
std::vector<EventRow> list_events(pqxx::connection& c, const EventFilter& f);

// Which nodes a listing wants; unset parts match every node.
struct NodeFilter {
  std::optional<std::string> status;  // online | stale | offline
  std::optional<std::string> type;
  std::vector<std::pair<std::string, std::string>> labels;  // all must be among its labels
};

struct NodeRow {
  std::string node_id;
  std::string type;
  std::string hostname;
  std::string labels_json;  // JSON objects as stored
  std::string state_json;
  std::string info_json;  // only filled by get_node
  std::string status;
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  std::optional<double> interval_s;
};

// Matching nodes ordered by node_id (bytewise), without info.
std::vector<NodeRow> list_nodes(pqxx::connection& c, const NodeFilter& f);
// One node with its info, or nullopt when there is none by that id.
std::optional<NodeRow> get_node(pqxx::connection& c, const std::string& node_id);

struct NodeCounts {
  int64_t online = 0, stale = 0, offline = 0;
  int64_t total() const { return online + stale + offline; }
};
NodeCounts count_nodes_by_status(pqxx::connection& c);

}  // namespace metricsd::storage
