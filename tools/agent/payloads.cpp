// JSON bodies of the public API (see payloads.hpp).
#include "tools/agent/payloads.hpp"

namespace metricsd::tools {

using nlohmann::json;

std::string heartbeat_json(const HeartbeatBody& hb) {
  json doc = {{"type", hb.type}, {"hostname", hb.hostname}, {"interval_s", hb.interval_s}};
  doc["labels"] = json::object();
  for (const auto& [k, v] : hb.labels)
    doc["labels"][k] = v;
  if (!hb.state.is_null()) doc["state"] = hb.state;
  if (!hb.info.is_null()) doc["info"] = hb.info;
  doc["metrics"] = json::object();
  for (const auto& [k, v] : hb.metrics)
    doc["metrics"][k] = v;
  if (hb.events.is_array() && !hb.events.empty()) doc["events"] = hb.events;
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string metrics_json(const std::string& node, const std::vector<Sample>& samples) {
  json list = json::array();
  for (const auto& s : samples) {
    json one = {
        {"metric", s.metric}, {"value", s.value}, {"ts", static_cast<double>(s.ts_ms) / 1000.0}};
    if (!s.labels.empty()) one["labels"] = s.labels;
    if (!s.node.empty()) one["node"] = s.node;
    list.push_back(std::move(one));
  }
  json doc = {{"samples", std::move(list)}};
  if (!node.empty()) doc["node"] = node;
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<AgentCommand> parse_commands(const std::string& heartbeat_answer) {
  std::vector<AgentCommand> out;
  json doc = json::parse(heartbeat_answer, nullptr, false);
  if (!doc.is_object() || !doc.contains("commands") || !doc["commands"].is_array()) return out;
  for (const auto& c : doc["commands"]) {
    if (!c.is_object() || !c.contains("id") || !c.contains("type") || !c["type"].is_string())
      continue;
    const json& id = c["id"];
    if (!id.is_string() && !id.is_number_integer()) continue;
    out.push_back(
        {id.is_string() ? id.get<std::string>() : id.dump(), c["type"].get<std::string>(), c});
  }
  return out;
}

std::string ack_json(bool done, const std::string& message) {
  return json{{"status", done ? "done" : "failed"}, {"message", message}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

AckOutcome classify_ack_reply(int status, const std::string& body) {
  if (status >= 200 && status < 300) return AckOutcome::kAcknowledged;
  if (status == 409) return AckOutcome::kAlreadyAcked;
  if (status != 404) return AckOutcome::kFailed;
  const json doc = json::parse(body, nullptr, false);
  const bool api_error = doc.is_object() && doc.contains("error") && doc["error"].is_object() &&
                         doc["error"].contains("message") && doc["error"]["message"].is_string();
  if (!api_error) return AckOutcome::kNoEndpoint;  // not metricsd's handler: a proxy, say
  const std::string message = doc["error"]["message"].get<std::string>();
  return message.rfind("no such endpoint", 0) == 0 ? AckOutcome::kNoEndpoint
                                                   : AckOutcome::kUnknownCommand;
}

std::string error_message(const std::string& body) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object() &&
      doc["error"].contains("message") && doc["error"]["message"].is_string()) {
    std::string m = doc["error"]["message"].get<std::string>();
    if (doc["error"].contains("details") && doc["error"]["details"].is_array() &&
        !doc["error"]["details"].empty())
      m += " " + doc["error"]["details"][0].dump().substr(0, 200);
    return m;
  }
  return body.substr(0, 200);
}

}  // namespace metricsd::tools
