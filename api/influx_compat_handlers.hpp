// What InfluxDB 1.x/2.x clients and Telegraf call besides their writes, so they work
// unchanged: GET/HEAD /ping (204 with the version headers they read), GET /health (the
// 2.x health body) and /query, which answers the statements clients send at start
// (CREATE DATABASE, SHOW DATABASES) in InfluxDB's JSON and refuses any other InfluxQL with
// a 400 in InfluxDB's error shape. Writes go to the line-protocol ingest handler
// (/write, /api/v2/write). A database is a name only: every name is accepted and the data
// lands in the one store; SHOW DATABASES lists the names created since the daemon started.
//
// Threads: any io thread; created_ is guarded by mu_.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "api/http_types.hpp"
#include "core/prom.hpp"

namespace metricsd::api {

// The InfluxDB version clients are told: 1.8 is the 1.x release that also serves the 2.x
// compatibility API (/api/v2/write, /health, Token auth), which metricsd serves too.
inline constexpr const char* kInfluxCompatVersion = "1.8.10";

class InfluxCompatHandlers {
 public:
  explicit InfluxCompatHandlers(prom::Registry& metrics);

  boost::asio::awaitable<Response> ping(Request& req);
  boost::asio::awaitable<Response> health(Request& req);
  boost::asio::awaitable<Response> query(Request& req);

 private:
  // The 400 in InfluxDB's shape ({"error": ...}), counted by `reason`.
  Response refuse(const std::string& message, const char* reason);

  prom::Family<prom::Counter>& statements_;

  std::mutex mu_;                     // guards created_
  std::vector<std::string> created_;  // CREATE DATABASE names, in order, at most kMaxNames
};

}  // namespace metricsd::api
