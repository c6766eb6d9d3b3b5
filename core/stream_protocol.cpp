// The /ws/metrics client protocol; see stream_protocol.hpp.
#include "core/stream_protocol.hpp"

#include <algorithm>

#include "core/names.hpp"
#include "core/time_parse.hpp"

namespace metricsd::stream {
namespace {

using nlohmann::json;

constexpr std::string_view kMetricsPrefix = "metrics:";

RequestError bad(json id, std::string message, std::string field, json value = nullptr) {
  json detail = {{"field", std::move(field)}};
  if (!value.is_null()) detail["value"] = std::move(value);
  return {std::move(id), "invalid_argument", std::move(message), json::array({std::move(detail)})};
}

// Parses body["channels"] (or the older form's list of categories) into out.
std::optional<RequestError> parse_channels(const json& list, const json& id, bool categories_only,
                                           std::string_view field, const Limits& limits,
                                           std::vector<Channel>& out) {
  if (!list.is_array())
    return bad(id, std::string(field) + " must be an array of channel names", std::string(field));
  if (list.size() > limits.max_channels)
    return RequestError{id, "invalid_argument",
                        "too many channels in one request (at most " +
                            std::to_string(limits.max_channels) + ", stream.max_channels)",
                        json::array({{{"field", std::string(field)},
                                      {"limit", limits.max_channels},
                                      {"given", list.size()}}})};
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = std::string(field) + "[" + std::to_string(i) + "]";
    if (!list[i].is_string()) return bad(id, where + " must be a string", where, list[i]);
    auto text = list[i].get<std::string>();
    std::optional<Channel> c;
    if (categories_only) {
      c = parse_channel(std::string(kMetricsPrefix) + text);
      if (c && c->kind != Channel::Kind::kCategory) c.reset();
    } else {
      c = parse_channel(text);
    }
    if (!c)
      return bad(id,
                 categories_only
                     ? "not a category name: " + text
                     : "unknown channel \"" + text +
                           "\"; expected metrics:<category>, metrics:<metric>, nodes or events",
                 where, text);
    if (std::find(out.begin(), out.end(), *c) == out.end()) out.push_back(std::move(*c));
  }
  return std::nullopt;
}

}  // namespace

std::string Channel::text() const {
  switch (kind) {
    case Kind::kCategory:
    case Kind::kMetric:
      return std::string(kMetricsPrefix) + name;
    case Kind::kNodes:
      return "nodes";
    case Kind::kEvents:
      return "events";
    case Kind::kAlerts:
      return "alerts";
  }
  return "";
}

std::optional<Channel> parse_channel(std::string_view text) {
  if (text == "nodes") return Channel{Channel::Kind::kNodes, ""};
  if (text == "events") return Channel{Channel::Kind::kEvents, ""};
  if (text == "alerts") return Channel{Channel::Kind::kAlerts, ""};
  if (!text.starts_with(kMetricsPrefix)) return std::nullopt;
  std::string_view name = text.substr(kMetricsPrefix.size());
  if (!valid_metric_name(name)) return std::nullopt;
  if (name.find('.') == std::string_view::npos)
    return Channel{Channel::Kind::kCategory, std::string(name)};
  if (name.back() == '.') return std::nullopt;  // a category with a dot is no metric name
  return Channel{Channel::Kind::kMetric, std::string(name)};
}

std::variant<Request, RequestError> parse_request(std::string_view text, const Limits& limits) {
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded())
    return bad(nullptr, "not valid JSON; each message is one JSON object", "message");
  if (!body.is_object()) return bad(nullptr, "a message must be a JSON object", "message");
  json id = body.contains("id") ? body["id"] : json(nullptr);
  if (!id.is_null() && !id.is_number_integer() && !id.is_string())
    return bad(nullptr, "id must be an integer or a string", "id", id);
  Request r;
  r.id = id;
  if (!body.contains("op")) {
    // The older form: {"subscribe": ["system", "neural"]} means metrics:<category> of each.
    if (body.contains("subscribe")) {
      r.op = Request::Op::kSubscribe;
      if (auto e = parse_channels(body["subscribe"], id, true, "subscribe", limits, r.channels))
        return *e;
      return r;
    }
    return bad(id, "missing \"op\" (subscribe, unsubscribe or ping)", "op");
  }
  const json& op = body["op"];
  std::string op_text = op.is_string() ? op.get<std::string>() : "";
  if (op_text == "ping") {
    r.op = Request::Op::kPing;
    return r;
  }
  if (op_text != "subscribe" && op_text != "unsubscribe")
    return bad(id, "unknown op; expected subscribe, unsubscribe or ping", "op", op);
  r.op = op_text == "subscribe" ? Request::Op::kSubscribe : Request::Op::kUnsubscribe;
  if (!body.contains("channels")) {
    if (r.op == Request::Op::kSubscribe) return bad(id, "subscribe needs \"channels\"", "channels");
    r.all_channels = true;
  } else if (auto e = parse_channels(body["channels"], id, false, "channels", limits, r.channels)) {
    return *e;
  }
  if (body.contains("nodes")) {
    if (r.op != Request::Op::kSubscribe) return bad(id, "\"nodes\" is a subscribe option", "nodes");
    const json& nodes = body["nodes"];
    if (!nodes.is_array()) return bad(id, "nodes must be an array of node ids", "nodes", nodes);
    if (nodes.size() > limits.max_node_filter)
      return bad(
          id,
          "too many nodes in the filter (at most " + std::to_string(limits.max_node_filter) + ")",
          "nodes");
    std::vector<std::string> list;
    for (size_t i = 0; i < nodes.size(); ++i) {
      std::string where = "nodes[" + std::to_string(i) + "]";
      if (!nodes[i].is_string() || !valid_node_id(nodes[i].get<std::string>()))
        return bad(id, "not a node id", where, nodes[i]);
      list.push_back(nodes[i].get<std::string>());
    }
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    r.nodes = std::move(list);
  }
  return r;
}

namespace {

// Server messages keep "type" first (and "id" next), for people reading them in wscat.
using ojson = nlohmann::ordered_json;

ojson ordered(const json& j) {
  return ojson::parse(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

ojson head(std::string_view type, const json& id) {
  ojson j;
  j["type"] = type;
  if (!id.is_null()) j["id"] = ordered(id);
  return j;
}

}  // namespace

std::string encode_subscribed(std::string_view type, const json& id,
                              const std::vector<Channel>& channels) {
  ojson j = head(type, id);
  j["channels"] = ojson::array();
  for (const auto& c : channels)
    j["channels"].push_back(c.text());
  return j.dump();
}

std::string encode_pong(const json& id) {
  return head("pong", id).dump();
}

std::string encode_error(const RequestError& e) {
  ojson j = head("error", nullptr);
  j["id"] = ordered(e.id);
  j["error"] = {{"code", e.code}, {"message", e.message}, {"details", ordered(e.details)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_dropped(uint64_t samples, uint64_t messages) {
  ojson j = head("dropped", nullptr);
  j["count"] = samples;
  j["messages"] = messages;
  return j.dump();
}

std::string encode_node(std::string_view node, std::string_view status, int64_t last_seen_ms) {
  ojson j = head("node", nullptr);
  j["node"] = node;
  j["status"] = status;
  j["last_seen"] = format_rfc3339_ms(last_seen_ms);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_event(std::string_view node, std::string_view type, const json& data,
                         int64_t ts_ms) {
  ojson j = head("event", nullptr);
  ojson e;
  e["ts"] = format_rfc3339_ms(ts_ms);
  e["node"] = node;
  e["type"] = type;
  e["data"] = ordered(data);
  j["event"] = std::move(e);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_alerts(const nlohmann::json& id, const nlohmann::json& alerts) {
  nlohmann::json j = {{"type", "alerts"}};
  if (!id.is_null()) j["id"] = id;
  j["alerts"] = alerts;
  return j.dump();
}

}  // namespace metricsd::stream
