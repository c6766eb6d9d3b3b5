// Request authorization; see auth.hpp.
#include "server/auth.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/log_escape.hpp"
#include "core/thread_name.hpp"
#include "core/time_parse.hpp"
#include "core/token.hpp"
#include "server/request_target.hpp"
#include "server/spawn.hpp"

namespace metricsd::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr size_t kMaxLimiterKeys = 100'000;
constexpr auto kFlushEvery = 10s;
// Live tokens the index holds (about 40 bytes each); more are looked up under the
// address budget.
constexpr int64_t kMaxKnownTokens = 1'000'000;

// The index's key: the first 16 hex digits (8 bytes) of a secret's SHA-256. A guess whose
// hash shares them with a live token's is as unlikely as guessing that token itself, and
// would only be looked up without the address budget.
uint64_t hash_key(std::string_view hex) {
  uint64_t key = 0;
  std::from_chars(hex.data(), hex.data() + std::min<size_t>(16, hex.size()), key, 16);
  return key;
}

// "10.0.0.7:51234" -> "10.0.0.7"; "[::1]:80" or "::1:80" -> the address part.
std::string address_only(const std::string& remote) {
  auto colon = remote.rfind(':');
  return colon == std::string::npos ? remote : remote.substr(0, colon);
}

int retry_after(double seconds) {
  return std::max(1, static_cast<int>(std::ceil(seconds)));
}

// A token id as a notification's payload; nullopt when it is not one.
std::optional<int64_t> token_id_from(const std::string& payload) {
  int64_t id = 0;
  auto [p, ec] = std::from_chars(payload.data(), payload.data() + payload.size(), id);
  if (ec != std::errc() || p != payload.data() + payload.size()) return std::nullopt;
  return id;
}

// Calls `on_payload` for each notification on `channel` (on the thread that awaits them).
class TokenNotice : public pqxx::notification_receiver {
 public:
  TokenNotice(pqxx::connection& c, const char* channel,
              std::function<void(const std::string&)> on_payload)
      : pqxx::notification_receiver(c, channel), on_payload_(std::move(on_payload)) {}
  void operator()(const std::string& payload, int) override { on_payload_(payload); }

 private:
  std::function<void(const std::string&)> on_payload_;
};

}  // namespace

Authenticator::Authenticator(asio::io_context& ioc, const Settings& settings, storage::Database& db,
                             prom::Registry& metrics)
    : ioc_(ioc),
      settings_(settings),
      db_(db),
      enabled_(settings.auth_mode != "disabled"),
      ttl_(settings.auth_cache_ttl_ms),
      max_tokens_(static_cast<size_t>(settings.auth_cache_max_tokens)),
      per_token_(static_cast<double>(settings.rate_limit_per_token_rps),
                 static_cast<double>(settings.rate_limit_burst), kMaxLimiterKeys),
      per_token_samples_(static_cast<double>(settings.rate_limit_per_token_samples_per_s),
                         static_cast<double>(settings.rate_limit_per_token_samples_per_s),
                         kMaxLimiterKeys),
      per_addr_(static_cast<double>(settings.rate_limit_per_addr_rps),
                2.0 * static_cast<double>(settings.rate_limit_per_addr_rps), kMaxLimiterKeys),
      timer_(ioc),
      denied_(metrics.counter("metricsd_auth_denied_total",
                              "Requests refused by authentication or authorization", {"reason"})),
      limited_(metrics.counter("metricsd_rate_limited_total",
                               "Requests answered 429 by a rate limit", {"limit"})),
      lookups_(metrics
                   .counter("metricsd_auth_token_lookups_total",
                            "Token checks that went to the database (cache misses)")
                   .get()),
      audit_failures_(
          metrics.counter("metricsd_audit_write_failures_total", "Audit rows that failed to write")
              .get()),
      notify_errors_(metrics
                         .counter("metricsd_auth_notify_errors_total",
                                  "Failures of the token revocation listener connection")
                         .get()) {
  metrics.gauge_fn("metricsd_auth_cached_tokens", "Tokens held in the authentication cache",
                   [this] {
                     std::lock_guard lock(mu_);
                     return static_cast<double>(cache_.size());
                   });
  metrics.gauge_fn("metricsd_auth_known_tokens",
                   "Live tokens in the index that exempts their lookups from the per-address "
                   "budget",
                   [this] {
                     std::lock_guard lock(mu_);
                     return static_cast<double>(known_.size());
                   });
}

Authenticator::~Authenticator() {
  stop();
}

void Authenticator::start() {
  spawn_logged(ioc_.get_executor(), flush_loop(), "token last-used flush");
  if (enabled_)
    listener_ = std::thread([this] {
      name_this_thread("md-auth-listen");
      listen_main();
    });
}

void Authenticator::stop() {
  if (stopping_.exchange(true)) return;
  timer_.cancel();
  if (listener_.joinable()) listener_.join();
}

double Authenticator::now_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_).count();
}

// The lambda given to run() captures by reference: GCC 12 destroys a co_await
// temporary with a non-trivial destructor twice.
asio::awaitable<std::optional<api::Principal>> Authenticator::resolve(std::string secret,
                                                                      std::string remote,
                                                                      Budget budget) {
  std::string hash = hash_token_secret(secret);
  std::optional<api::Principal> who = cached(hash);
  if (who) co_return who;
  // An address whose unknown tokens used up its budget is refused before the database is
  // asked, unless the token is one the index knows to exist: only lookups that find
  // nothing are charged, so guessing from an address never refuses the valid tokens of
  // the others behind it, nor many clients starting at once with one valid token.
  const std::string addr = address_only(remote);
  const bool is_known = budget == Budget::kFree || known(hash);
  if (!is_known) {
    double wait = per_addr_.wait(addr, now_s());
    if (wait > 0) {
      limited_.with({"address"}).inc();
      throw api::ApiError::rate_limited(
          "too many requests from this address without a valid token; slow down",
          retry_after(wait));
    }
  }
  if (!db_.ready()) throw api::ApiError::unavailable(db_.not_ready_reason(), 2);
  lookups_.inc();
  std::optional<storage::TokenRow> row = co_await db_.pool().run(
      [&hash](pqxx::connection& c) { return storage::find_token(c, hash); });
  if (row) {
    who = api::Principal{true, row->id, row->name, row->role, row->node_id};
    remember(hash, *who);
    co_return who;
  }
  // Revoked while this daemon missed the notification: known no longer.
  if (is_known) unindex(hash);
  if (budget == Budget::kSpent) per_addr_.take(addr, 1, now_s());
  co_return who;
}

asio::awaitable<void> Authenticator::authorize(api::Request& req, Access access,
                                               bool allow_query_token) {
  co_await check(req, access, allow_query_token, Budget::kSpent);
}

asio::awaitable<void> Authenticator::recheck(api::Request& req, Access access,
                                             bool allow_query_token) {
  co_await check(req, access, allow_query_token, Budget::kFree);
}

asio::awaitable<void> Authenticator::check(api::Request& req, Access access, bool allow_query_token,
                                           Budget budget) {
  if (access == Access::kPublic) co_return;
  if (!enabled_) {
    req.principal = api::Principal{false, 0, "auth disabled", Role::kAdmin, ""};
    co_return;
  }
  RequestToken token = request_token(req, allow_query_token);
  std::optional<api::Principal> who;
  if (!token.secret.empty()) who = co_await resolve(token.secret, req.remote_addr, budget);
  check_principal(req, access, token, who, budget);
}

void Authenticator::check_principal(api::Request& req, Access access, const RequestToken& token,
                                    const std::optional<api::Principal>& who, Budget budget) {
  if (!who) {
    if (token.bad_scheme) {
      deny(req, access, "scheme");
      throw api::ApiError::unauthenticated(
          fmt::format("the Authorization header's scheme is not accepted; send the token as {}",
                      kTokenSchemes));
    }
    const bool no_token = token.secret.empty();
    deny(req, access, no_token ? "missing" : "unknown");
    throw api::ApiError::unauthenticated(
        no_token ? fmt::format("this endpoint needs a token: send it as {}", kTokenSchemes)
                 : "the token is unknown or revoked");
  }
  req.principal = *who;
  if (!role_allows(who->role, access)) {
    deny(req, access, "role");
    std::string_view role = role_name(who->role);
    throw api::ApiError::permission_denied(
        fmt::format("{} {} token may not use {} {}; it needs {}",
                    role.front() == 'a' || role.front() == 'o' ? "an" : "a", role, req.method,
                    req.route, access_name(access)));
  }
  if (auto node = req.path_param("node_id"); !node.empty()) require_node(req, node, access);
  double wait =
      budget == Budget::kSpent ? per_token_.take(std::to_string(who->token_id), 1, now_s()) : 0;
  if (wait > 0) {
    limited_.with({"token_requests"}).inc();
    throw api::ApiError::rate_limited(
        fmt::format("token {} is over rate_limit.per_token_rps ({}/s)", who->token_name,
                    settings_.rate_limit_per_token_rps),
        retry_after(wait));
  }
  note_used(who->token_id);
}

void Authenticator::require_node(const api::Request& req, std::string_view node) {
  require_node(req, node, Access::kWrite);
}

void Authenticator::require_node(const api::Request& req, std::string_view node, Access access) {
  const auto& who = req.principal;
  if (!who.authenticated || who.role != Role::kAgent || who.node_id.empty() || node == who.node_id)
    return;
  deny(req, access, "node");
  throw api::ApiError::permission_denied(fmt::format(
      "this agent token is bound to node {}; it may not act for node {}", who.node_id, node));
}

void Authenticator::charge_samples(const api::Request& req, size_t samples) {
  if (!req.principal.authenticated || samples == 0) return;
  double wait = per_token_samples_.take(std::to_string(req.principal.token_id),
                                        static_cast<double>(samples), now_s());
  if (wait <= 0) return;
  limited_.with({"token_samples"}).inc();
  throw api::ApiError::rate_limited(
      fmt::format("token {} is over rate_limit.per_token_samples_per_s ({}/s); nothing of "
                  "this request was stored",
                  req.principal.token_name, settings_.rate_limit_per_token_samples_per_s),
      retry_after(wait));
}

std::optional<api::Principal> Authenticator::cached(const std::string& hash) {
  std::lock_guard lock(mu_);
  auto it = cache_.find(hash);
  if (it == cache_.end()) return std::nullopt;
  if (std::chrono::steady_clock::now() - it->second.checked > ttl_) {
    cache_.erase(it);
    return std::nullopt;
  }
  return it->second.principal;
}

void Authenticator::remember(const std::string& hash, const api::Principal& p) {
  std::lock_guard lock(mu_);
  if (cache_.size() >= max_tokens_) cache_.erase(cache_.begin());
  cache_[hash] = Cached{p, std::chrono::steady_clock::now()};
}

void Authenticator::note_used(int64_t token_id) {
  int64_t now = wall_ms();
  std::lock_guard lock(mu_);
  if (used_.size() < max_tokens_ || used_.count(token_id)) used_[token_id] = now;
}

void Authenticator::forget(int64_t token_id) {
  std::lock_guard lock(mu_);
  std::erase_if(cache_,
                [token_id](const auto& kv) { return kv.second.principal.token_id == token_id; });
  std::erase_if(known_, [token_id](const auto& kv) { return kv.second == token_id; });
}

void Authenticator::forget_all() {
  std::lock_guard lock(mu_);
  cache_.clear();
}

bool Authenticator::known(const std::string& hash) {
  std::lock_guard lock(mu_);
  return known_.count(hash_key(hash)) > 0;
}

void Authenticator::index_all(const std::vector<storage::LiveTokenHash>& live) {
  std::unordered_map<uint64_t, int64_t> fresh;
  fresh.reserve(live.size());
  for (const auto& t : live)
    fresh[hash_key(t.secret_hash)] = t.id;
  std::lock_guard lock(mu_);
  known_.swap(fresh);
}

void Authenticator::index_one(int64_t token_id, const std::string& hash) {
  std::lock_guard lock(mu_);
  if (known_.size() < static_cast<size_t>(kMaxKnownTokens)) known_[hash_key(hash)] = token_id;
}

void Authenticator::unindex(const std::string& hash) {
  std::lock_guard lock(mu_);
  known_.erase(hash_key(hash));
}

void Authenticator::deny(const api::Request& req, Access access, const char* reason) {
  denied_.with({reason}).inc();
  if (access != Access::kAdmin) return;
  // Refused attempts on admin routes are audited (the route, never the token).
  storage::AuditEntry e;
  if (req.principal.authenticated) {
    e.token_id = req.principal.token_id;
    e.token_name = req.principal.token_name;
  }
  e.source_addr = req.remote_addr;
  e.action = "auth.denied";
  e.target = req.method + " " + req.route;
  e.outcome = "denied";
  e.details_json = nlohmann::json{{"reason", reason}}.dump();
  audit_async(std::move(e));
}

void Authenticator::audit_async(storage::AuditEntry entry) {
  auto failed = [this](const storage::AuditEntry& e, const std::string& why) {
    audit_failures_.inc();
    spdlog::warn("audit row for {} {} not written: {}", e.action, escape_for_log(e.target),
                 escape_for_log(why));
  };
  bool queued = db_.pool().submit([entry, failed](pqxx::connection* c, std::exception_ptr err) {
    if (!c) return failed(entry, "database unavailable");
    try {
      if (err) std::rethrow_exception(err);
      storage::insert_audit(*c, entry);
    } catch (const std::exception& e) {
      failed(entry, e.what());
    }
  });
  if (!queued) failed(entry, "storage queue full");
}

asio::awaitable<void> Authenticator::flush_loop() {
  while (!stopping_.load()) {
    timer_.expires_after(kFlushEvery);
    auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    co_await flush_last_used();
    if (ec) break;
  }
}

asio::awaitable<void> Authenticator::flush_last_used() {
  std::vector<std::pair<int64_t, int64_t>> used;
  {
    std::lock_guard lock(mu_);
    used.assign(used_.begin(), used_.end());
    used_.clear();
  }
  if (used.empty() || !db_.ready()) co_return;
  std::exception_ptr failed;
  try {
    co_await db_.pool().run([&used](pqxx::connection& c) { storage::touch_tokens(c, used); });
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    try {
      std::rethrow_exception(failed);
    } catch (const std::exception& e) {
      spdlog::warn("token last-used times not recorded: {}", e.what());
    }
  }
}

// Listens for revocations and creations; once the database is ready (migrated), loads the
// index of live tokens over the same connection, after LISTEN, so no creation between the
// two is missed. Tokens created while it was not listening are in the next full load.
void Authenticator::listen_main() {
  auto backoff = 500ms;
  bool reported = false;
  bool warned_full = false;
  while (!stopping_.load()) {
    try {
      pqxx::connection c(db_.conninfo());
      std::vector<int64_t> created;  // ids notified, indexed after each wait
      TokenNotice revoked(c, storage::kTokenChannel, [this](const std::string& payload) {
        if (auto id = token_id_from(payload))
          forget(*id);
        else
          forget_all();
      });
      TokenNotice creations(c, storage::kTokenCreatedChannel,
                            [&created](const std::string& payload) {
                              if (auto id = token_id_from(payload)) created.push_back(*id);
                            });
      forget_all();  // anything revoked while not listening is checked again
      backoff = 500ms;
      if (reported) spdlog::info("token revocation listener connected again");
      reported = false;
      bool indexed = false;
      while (!stopping_.load()) {
        if (!indexed && db_.ready()) {
          auto live = storage::list_live_token_hashes(c, kMaxKnownTokens);
          if (static_cast<int64_t>(live.size()) >= kMaxKnownTokens && !warned_full) {
            spdlog::warn(
                "more than {} live tokens: the others are looked up under "
                "rate_limit.per_addr_rps like unknown ones",
                kMaxKnownTokens);
            warned_full = true;
          }
          index_all(live);
          indexed = true;
          created.clear();  // in the load
        }
        c.await_notification(0, 200'000);
        if (!indexed) created.clear();  // the load will hold them
        for (int64_t id : created)
          if (auto hash = storage::live_token_hash(c, id)) index_one(id, *hash);
        created.clear();
      }
    } catch (const std::exception& e) {
      notify_errors_.inc();
      if (!reported) spdlog::warn("token revocation listener: {}; retrying", e.what());
      reported = true;
    }
    for (auto waited = 0ms; waited < backoff && !stopping_.load(); waited += 100ms)
      std::this_thread::sleep_for(100ms);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000));
  }
}

}  // namespace metricsd::server
