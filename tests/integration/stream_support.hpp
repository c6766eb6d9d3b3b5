// What the /ws/metrics tests share: a fixture owning one daemon per suite, and helpers to
// post samples and to wait for the daemon's counters.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness.hpp"
#include "ws_client.hpp"

namespace metricsd::test {

class StreamBase : public ::testing::Test {
 protected:
  static void start(std::vector<std::string> args);
  static void stop();
  static int port() { return daemon_->port(); }

  // POST /api/v1/metrics {"node": node, "metrics": {metric: value}} at the server's time.
  static HttpResult post_metrics(const std::string& node, const nlohmann::json& metrics);
  static HttpResult heartbeat(const std::string& node, const nlohmann::json& body);
  // Waits until the /metrics series reaches at least `want`; its last value.
  static double wait_metric(const std::string& series, double want,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Subscribes and consumes the ack and the snapshot; returns the snapshot.
  static nlohmann::json subscribe(WsClient& c, const nlohmann::json& request);

  static std::unique_ptr<TempDir> dir_;
  static std::unique_ptr<Daemon> daemon_;
};

// Samples of the `metrics` messages in `messages` (in order).
std::vector<nlohmann::json> samples_of(const std::vector<nlohmann::json>& messages);

}  // namespace metricsd::test
