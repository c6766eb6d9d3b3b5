// Authentication and authorization of requests: tokens (server/request_target.hpp) resolved through
// a bounded cache in front of the tokens table, the route's required access checked against the
// token's role, per-token and per-address rate limits, and an audit row for refused
// attempts on admin routes. Revocations through this daemon apply at once; others (the
// CLI, another daemon) arrive by PostgreSQL NOTIFY, and at worst within auth.cache_ttl_ms.
// The daemon's api::Authorizer: every refusal is counted and audited in deny().
//
// The per-address budget (rate_limit.per_addr_rps) guards the database against guessing:
// only lookups that find no token spend it, and once it is spent, a token that is neither
// cached nor known is refused without a lookup. "Known" is an index of the live tokens'
// hashes (known_: 8 bytes of each), loaded by the NOTIFY listener and kept current by the
// created/revoked notifications, so a valid token is never refused for its address, even
// the first time it is used while others guess from the same address (behind one NAT).
// The index only exempts a lookup from the budget; the lookup still decides.
//
// Threads: authorize()/recheck()/require_node()/charge_samples()/forget*() from any io
// thread; the token cache, the last-used map and the index are guarded by mu_, the rate
// limiters lock themselves. The last-used flush runs as a coroutine on the io context; the
// NOTIFY listener on its own thread (listener_, md-auth-listen) with its own connection.
// start()/stop() from the thread that starts and stops the daemon.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/authorizer.hpp"
#include "api/http_types.hpp"
#include "core/prom.hpp"
#include "core/rate_limiter.hpp"
#include "core/roles.hpp"
#include "core/settings.hpp"
#include "server/request_target.hpp"
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
  boost::asio::awaitable<void> recheck(api::Request& req, Access access,
                                       bool allow_query_token) override;
  void require_node(const api::Request& req, std::string_view node) override;
  void charge_samples(const api::Request& req, size_t samples) override;

  // A revoked token: drops its cached entries and its place in the index of live tokens.
  void forget(int64_t token_id);
  // Drops every cached entry, so each token's next use is checked again (the index stays).
  void forget_all();

  // An audit row written in the background (failures are logged and counted).
  void audit_async(storage::AuditEntry entry);

 private:
  struct Cached {
    api::Principal principal;
    std::chrono::steady_clock::time_point checked;
  };
  // Whether a check spends request budgets: a request does (the token's, and the
  // address's when its token turns out unknown); a stream's re-check does not.
  enum class Budget { kSpent, kFree };
  boost::asio::awaitable<void> check(api::Request& req, Access access, bool allow_query_token,
                                     Budget budget);
  // The token's principal: from the cache, or the database (a lookup that finds nothing is
  // charged to the address; an address over its budget gets none unless the token is known).
  boost::asio::awaitable<std::optional<api::Principal>> resolve(std::string secret,
                                                                std::string remote, Budget budget);
  // The checks after the token is known; throws ApiError 401/403/429.
  void check_principal(api::Request& req, Access access, const RequestToken& token,
                       const std::optional<api::Principal>& who, Budget budget);
  // The index of live tokens (see the top).
  bool known(const std::string& hash);
  void index_all(const std::vector<storage::LiveTokenHash>& live);
  void index_one(int64_t token_id, const std::string& hash);
  void unindex(const std::string& hash);
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

  std::mutex mu_;  // guards cache_, used_ and known_
  std::unordered_map<std::string, Cached> cache_;
  std::unordered_map<int64_t, int64_t> used_;  // token id -> last use, unix ms
  // Live tokens: the first 8 bytes of the secret's hash -> the token id. Bounded by
  // kMaxKnownTokens; a token beyond it is looked up under the address budget.
  std::unordered_map<uint64_t, int64_t> known_;

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
