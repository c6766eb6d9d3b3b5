// Shared support of the stream tests; see stream_support.hpp.
#include "stream_support.hpp"

#include <thread>

namespace metricsd::test {

using nlohmann::json;
using namespace std::chrono_literals;

std::unique_ptr<TempDir> StreamBase::dir_;
std::unique_ptr<Daemon> StreamBase::daemon_;

void StreamBase::start(std::vector<std::string> args) {
  dir_ = std::make_unique<TempDir>();
  daemon_ = std::make_unique<Daemon>(dir_->path(), std::move(args));
  ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
}

void StreamBase::stop() {
  daemon_.reset();
  dir_.reset();
}

HttpResult StreamBase::post_metrics(const std::string& node, const json& metrics) {
  json body = {{"node", node}, {"metrics", metrics}};
  return http_request(port(), "POST", "/api/v1/metrics", body.dump(),
                      {{"Content-Type", "application/json"}});
}

HttpResult StreamBase::heartbeat(const std::string& node, const json& body) {
  return http_request(port(), "POST", "/api/v1/nodes/" + node + "/heartbeat", body.dump(),
                      {{"Content-Type", "application/json"}});
}

double StreamBase::wait_metric(const std::string& series, double want,
                               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  double v = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    v = metric_value(port(), series, 0);
    if (v >= want) return v;
    std::this_thread::sleep_for(50ms);
  }
  return v;
}

json StreamBase::subscribe(WsClient& c, const json& request) {
  EXPECT_TRUE(c.send_json(request));
  auto ack = c.next();
  EXPECT_TRUE(ack) << "no answer to " << request.dump();
  if (!ack) return json();
  EXPECT_EQ((*ack)["type"], "subscribed") << ack->dump();
  if (request.contains("id")) {
    EXPECT_EQ((*ack)["id"], request["id"]);
  }
  auto snap = c.next();
  EXPECT_TRUE(snap);
  if (!snap) return json();
  EXPECT_EQ((*snap)["type"], "snapshot") << snap->dump();
  return *snap;
}

std::vector<json> samples_of(const std::vector<json>& messages) {
  std::vector<json> out;
  for (const auto& m : messages)
    if (m["type"] == "metrics")
      for (const auto& s : m["samples"])
        out.push_back(s);
  return out;
}

}  // namespace metricsd::test
