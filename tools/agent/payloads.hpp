// The JSON bodies the agent and the simulator send (heartbeat, metrics batch, command ack)
// and the parts of the answers they read (the heartbeat's commands, an error's message).
// Shapes are those of the public API (docs/api.md).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/agent/sample.hpp"

namespace metricsd::tools {

struct HeartbeatBody {
  std::string type, hostname;
  Labels labels;
  double interval_s = 0;
  nlohmann::json state;  // null: not sent
  nlohmann::json info;   // null: not sent
  std::map<std::string, double> metrics;
  nlohmann::json events = nlohmann::json::array();  // node events; left out when empty
};
std::string heartbeat_json(const HeartbeatBody& hb);

// POST /api/v1/metrics: `node` is the default; samples with their own node carry it.
std::string metrics_json(const std::string& node, const std::vector<Sample>& samples);

// A command from a heartbeat answer.
struct AgentCommand {
  std::string id;  // as text, whatever JSON type the server used
  std::string type;
  nlohmann::json whole;  // the command object as received (passed to the hook)
};
// The answer's commands; malformed entries (no id or type) are skipped.
std::vector<AgentCommand> parse_commands(const std::string& heartbeat_answer);

std::string ack_json(bool done, const std::string& message);

// What the answer to POST /api/v1/nodes/{node}/commands/{id}/ack means. A 404 has two
// causes the agent must tell apart: the daemon's router answers an unknown path with
// `no such endpoint: <path>` (a server older than the ack endpoint), while the ack handler
// answers a command it does not have for this node with an error naming the command.
enum class AckOutcome {
  kAcknowledged,    // 2xx
  kNoEndpoint,      // 404 `no such endpoint`, or a 404 that is no metricsd error body
  kUnknownCommand,  // 404 from the handler: no such command for this node
  kAlreadyAcked,    // 409: an earlier acknowledgement went through
  kFailed,          // anything else: no answer, refused, overloaded
};
AckOutcome classify_ack_reply(int status, const std::string& body);

// The `error.message` of an API error body, else the body's first 200 bytes.
std::string error_message(const std::string& body);

}  // namespace metricsd::tools
