// The /ws/metrics client protocol: parsing what a client sends (subscribe, unsubscribe,
// ping, and the older {"subscribe": [categories]} form), the channel names, and encoding
// every server message except `metrics` and `snapshot` (see stream_encode.hpp). Pure
// logic, no I/O.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace metricsd::stream {

// One channel a client may subscribe to.
struct Channel {
  enum class Kind { kCategory, kMetric, kNodes, kEvents, kAlerts };
  Kind kind;
  std::string name;  // the category or metric; empty for nodes/events/alerts

  std::string text() const;  // "metrics:gpu", "metrics:gpu.temp_c", "nodes", "events"
  bool operator==(const Channel&) const = default;
  auto operator<=>(const Channel&) const = default;
};

// "metrics:gpu" -> category gpu; "metrics:gpu.temp_c" -> that metric; "nodes"; "events".
// nullopt when the text names no valid channel.
std::optional<Channel> parse_channel(std::string_view text);

struct Request {
  enum class Op { kSubscribe, kUnsubscribe, kPing };
  Op op;
  nlohmann::json id;              // as the client sent it (null when absent)
  std::vector<Channel> channels;  // subscribe/unsubscribe; deduplicated, in order given
  bool all_channels = false;      // unsubscribe without "channels": every channel
  std::optional<std::vector<std::string>> nodes;  // subscribe: the node filter, if given
};

// A request the server refuses; becomes an `error` message (the connection stays open).
struct RequestError {
  nlohmann::json id;  // null when the request had none (or was not JSON)
  std::string code;   // API error code ("invalid_argument", "payload_too_large", ...)
  std::string message;
  nlohmann::json details = nlohmann::json::array();
};

struct Limits {
  size_t max_channels = 64;       // channels in one request (and subscribed at once)
  size_t max_node_filter = 1000;  // node ids in one "nodes" filter
};

// Parses one text frame. All-or-nothing: any bad channel or node fails the request.
std::variant<Request, RequestError> parse_request(std::string_view text, const Limits& limits);

// Server messages (one JSON object each).
std::string encode_subscribed(std::string_view type, const nlohmann::json& id,
                              const std::vector<Channel>& channels);  // subscribed/unsubscribed
std::string encode_pong(const nlohmann::json& id);
std::string encode_error(const RequestError& e);
std::string encode_dropped(uint64_t samples, uint64_t messages);
std::string encode_node(std::string_view node, std::string_view status, int64_t last_seen_ms);
std::string encode_event(std::string_view node, std::string_view type, const nlohmann::json& data,
                         int64_t ts_ms);
// {"type": "alerts", "id": ..., "alerts": [...]}: the active alerts when `alerts` is
// subscribed (`alerts` is a JSON array's text).
std::string encode_alerts(const nlohmann::json& id, const nlohmann::json& alerts);

}  // namespace metricsd::stream
