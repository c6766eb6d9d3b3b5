// JSON bodies of the public API (see payloads.hpp).
#include "tools/agent/payloads.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

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

namespace {

// A JSON string: quotes, backslashes and control characters escaped, invalid UTF-8
// replaced by U+FFFD (as nlohmann's `replace` handler does), so the server never refuses a
// batch for one odd process name.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20) {
        static const char* kHex = "0123456789abcdef";
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // The length of a well-formed sequence starting here, 0 when it is not one.
    size_t n = c >= 0xC2 && c <= 0xDF   ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (n && i + n <= s.size()) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      bool ok = (c1 & 0xC0) == 0x80 && !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 > 0x9F) &&
                !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 > 0x8F);
      for (size_t k = 2; ok && k < n; ++k)
        ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
      if (ok) {
        out.append(s.substr(i, n));
        i += n;
        continue;
      }
    }
    out += "\xEF\xBF\xBD";
    ++i;
  }
  out += '"';
}

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc() ? end : buf);
}

}  // namespace

// Written directly rather than through nlohmann::json: a GPU node sends hundreds of
// samples a second, and building a JSON tree per sample was most of the agent's CPU.
std::string metrics_json(const std::string& node, const std::vector<Sample>& samples) {
  std::string out;
  out.reserve(64 + samples.size() * 96);
  out += "{\"samples\":[";
  bool first = true;
  for (const auto& s : samples) {
    out += first ? "{\"metric\":" : ",{\"metric\":";
    first = false;
    append_json_string(out, s.metric);
    out += ",\"value\":";
    append_number(out, s.value);
    out += ",\"ts\":";
    append_number(out, static_cast<double>(s.ts_ms) / 1000.0);
    if (!s.labels.empty()) {
      out += ",\"labels\":{";
      bool first_label = true;
      for (const auto& [k, v] : s.labels) {
        if (!first_label) out += ',';
        first_label = false;
        append_json_string(out, k);
        out += ':';
        append_json_string(out, v);
      }
      out += '}';
    }
    if (!s.node.empty()) {
      out += ",\"node\":";
      append_json_string(out, s.node);
    }
    out += '}';
  }
  out += ']';
  if (!node.empty()) {
    out += ",\"node\":";
    append_json_string(out, node);
  }
  out += '}';
  return out;
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
