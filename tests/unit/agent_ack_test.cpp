// The agent's reading of command acknowledgement answers: a 404 from the daemon's router (no
// ack endpoint: an older server) is not a 404 from the ack handler (no such command for this
// node). The bodies are the daemon's: server/http_session.cpp answers an unknown path with
// "no such endpoint: <path>", api/command_handlers.cpp an unknown command with "no command
// <id> for node <node>".
#include <gtest/gtest.h>

#include "tools/agent/payloads.hpp"

namespace metricsd::tools {
namespace {

std::string api_error(const std::string& code, const std::string& message) {
  return R"({"error":{"code":")" + code + R"(","message":")" + message + R"(","details":[]}})";
}

TEST(AgentAck, RouterNotFoundMeansTheServerHasNoAckEndpoint) {
  EXPECT_EQ(classify_ack_reply(
                404, api_error("not_found", "no such endpoint: /api/v1/nodes/n1/commands/7/ack")),
            AckOutcome::kNoEndpoint);
}

TEST(AgentAck, HandlerNotFoundMeansTheServerDoesNotKnowTheCommand) {
  EXPECT_EQ(classify_ack_reply(404, api_error("not_found", "no command 7 for node n1")),
            AckOutcome::kUnknownCommand);
}

TEST(AgentAck, A404ThatIsNoApiErrorIsNoEndpoint) {
  // A proxy's page or an empty body: no metricsd handler answered.
  EXPECT_EQ(classify_ack_reply(404, "<html><body>Not Found</body></html>"),
            AckOutcome::kNoEndpoint);
  EXPECT_EQ(classify_ack_reply(404, ""), AckOutcome::kNoEndpoint);
  EXPECT_EQ(classify_ack_reply(404, R"({"error":"not found"})"), AckOutcome::kNoEndpoint);
}

TEST(AgentAck, OtherAnswers) {
  EXPECT_EQ(classify_ack_reply(200, R"({"id":7,"node":"n1","status":"done"})"),
            AckOutcome::kAcknowledged);
  EXPECT_EQ(classify_ack_reply(204, ""), AckOutcome::kAcknowledged);
  EXPECT_EQ(classify_ack_reply(409, api_error("conflict", "command 7 was already acknowledged")),
            AckOutcome::kAlreadyAcked);
  EXPECT_EQ(classify_ack_reply(0, ""), AckOutcome::kFailed);
  EXPECT_EQ(classify_ack_reply(503, api_error("unavailable", "database not ready")),
            AckOutcome::kFailed);
  EXPECT_EQ(
      classify_ack_reply(400, api_error("invalid_argument", "status: must be done or failed")),
      AckOutcome::kFailed);
  EXPECT_EQ(classify_ack_reply(403, api_error("permission_denied", "token bound to node n2")),
            AckOutcome::kFailed);
}

}  // namespace
}  // namespace metricsd::tools
