// Authentication and authorization of requests: bearer tokens resolved through a bounded
// cache in front of the tokens table, the route's required access checked against the
// token's role, per-token and per-address rate limits, and an audit row for refused
// attempts on admin routes. Revocations through this daemon apply at once; others (the
// CLI, another daemon) arrive by PostgreSQL NOTIFY, and at worst within auth.cache_ttl_ms.
// The daemon's api::Authorizer: every refusal is counted and audited in deny().
//
// Threads: authorize()/require_node()/charge_samples()/forget*() from any io thread; the
// token cache and the last-used map are guarded by mu_, the rate limiters lock
// themselves. The last-used flush runs as a coroutine on the io context; the NOTIFY
// listener on its own thread (listener_, md-auth-listen) with its own connection.
// start()/stop() from the thread that starts and stops the daemon.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "api/authorizer.hpp"
#include "api/http_types.hpp"
#include "core/prom.hpp"
#include "core/rate_limiter.hpp"
#include "core/roles.hpp"
#include "core/settings.hpp"
#include "storage/database.hpp"
#include "storage/token_store.hpp"

namespace metricsd::server {

class Authenticator : public api::Authorizer {
 public:
  Authenticator(boost::asio::io_context& ioc, const Settings& settings, storage::Database& db,
                prom::Registry& metrics);
  ~Authenticator();

  void start();  // the last-used flush timer and the NOTIFY listener
  void stop();

  // api::Authorizer.
  bool enabled() const override { return enabled_; }
  boost::asio::awaitable<void> authorize(api::Request& req, Access access,
                                         bool allow_query_token) override;
  void require_node(const api::Request& req, std::string_view node) override;
  void charge_samples(const api::Request& req, size_t samples) override;

  // Drops cached entries of a revoked token (or all), so the next use is checked again.
  void forget(int64_t token_id);
  void forget_all();

  // An audit row written in the background (failures are logged and counted).
  void audit_async(storage::AuditEntry entry);

 private:
  struct Cached {
    api::Principal principal;
    std::chrono::steady_clock::time_point checked;
  };
  // The token's principal: from the cache, or the database (charged to the address).
  boost::asio::awaitable<std::optional<api::Principal>> resolve(std::string secret,
                                                                std::string remote);
  // The checks after the token is known; throws ApiError 401/403/429.
  void check_principal(api::Request& req, Access access, bool no_token,
                       const std::optional<api::Principal>& who);
  boost::asio::awaitable<void> flush_last_used();
  std::optional<api::Principal> cached(const std::string& hash);
  void remember(const std::string& hash, const api::Principal& p);
  void note_used(int64_t token_id);
  void require_node(const api::Request& req, std::string_view node, Access access);
  // The one place a refusal is counted (metricsd_auth_denied_total{reason}) and, on admin
  // routes, audited.
  void deny(const api::Request& req, Access access, const char* reason);
  double now_s() const;
  boost::asio::awaitable<void> flush_loop();
  void listen_main();

  boost::asio::io_context& ioc_;
  const Settings& settings_;
  storage::Database& db_;
  const bool enabled_;
  const std::chrono::milliseconds ttl_;
  const size_t max_tokens_;
  const std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();

  std::mutex mu_;  // guards cache_ and used_
  std::unordered_map<std::string, Cached> cache_;
  std::unordered_map<int64_t, int64_t> used_;  // token id -> last use, unix ms

  RateLimiter per_token_, per_token_samples_, per_addr_;
  boost::asio::steady_timer timer_;
  std::atomic<bool> stopping_{false};
  std::thread listener_;

  prom::Family<prom::Counter>& denied_;
  prom::Family<prom::Counter>& limited_;
  prom::Counter& lookups_;
  prom::Counter& audit_failures_;
  prom::Counter& notify_errors_;
};

}  // namespace metricsd::server
