// A WebSocket test client for /ws/metrics (Beast): connects and upgrades in the
// constructor, then a background thread reads every message into a queue the test takes
// from with a timeout. With read = false it never reads (a stalled client) until
// start_reading(). Throws std::runtime_error when the upgrade fails.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace metricsd::test {

struct WsOptions {
  std::string target = "/ws/metrics";
  bool deflate = false;    // offer permessage-deflate
  bool read = true;        // false: do not read until start_reading()
  int receive_buffer = 0;  // SO_RCVBUF before connecting (small = stalls sooner); 0 = default
  // Unless `headers` name Authorization or the target carries ?access_token=, the test
  // daemon's admin token goes in Authorization: Bearer.
  std::vector<std::pair<std::string, std::string>> headers;
};

class WsClient {
 public:
  explicit WsClient(int port, WsOptions options = {});
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Sends one text message; false when it could not be written within the timeout.
  bool send(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool send_json(const nlohmann::json& j) { return send(j.dump()); }

  // The next message (parsed), or nullopt on timeout or when the connection ended.
  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The next message of this type; the ones before it are appended to *skipped.
  std::optional<nlohmann::json> next_of(std::string_view type,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                        std::vector<nlohmann::json>* skipped = nullptr);
  void start_reading();
  // Sends a close frame (code 1000).
  void close();
  // Waits for the connection to end; the close code the server sent, 0 when it ended
  // without a close frame, nullopt on timeout.
  std::optional<int> wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Wall-clock unix ms at which the reader thread received the message next() returned last.
  int64_t last_receipt_ms() const { return last_receipt_ms_; }
  bool deflate_negotiated() const { return deflate_; }
  const std::string& extensions_header() const { return extensions_; }
  size_t messages_received() const;
  size_t bytes_received() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool deflate_ = false;
  std::string extensions_;
  int64_t last_receipt_ms_ = 0;
};

// Sends an upgrade request to `target` and returns the HTTP answer (101 when accepted; the
// connection is then closed). Authorization as for http_request (the admin token unless
// `headers` name one; an empty value sends none).
HttpResult try_upgrade(int port, const std::string& target = "/ws/metrics",
                       const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace metricsd::test
