// Guessing tokens from one address (everyone behind one NAT or proxy shares it) against
// the real daemon: the guesses spend the address's budget (rate_limit.per_addr_rps) and are
// then refused without a database lookup, while every valid token from that address keeps
// being served: one already cached, one whose cache entry expires during the flood, one
// never used before, and one created by the command line meanwhile. And open streams'
// periodic re-checks of their token spend no request budget.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "ws_client.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The suite's address budget: 5 unknown-token lookups a second, a burst of 10; a cached
// token is checked again after 1 s.
constexpr int kAddrRps = 5;
constexpr int kAddrBurst = 2 * kAddrRps;

// A well-formed token nobody holds: "mtd_" + 43 base64url characters, as a guesser sends.
std::string random_token(std::mt19937_64& rng) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string t = "mtd_";
  for (int i = 0; i < 43; ++i)
    t += kAlphabet[rng() % 64];
  return t;
}

HttpResult as(int port, const std::string& token, const std::string& target = "/api/v1/nodes") {
  return http_request(port, "GET", target, "", {{"Authorization", "Bearer " + token}});
}

// Requests with random tokens from 127.0.0.1 on two threads, as fast as the daemon answers,
// until stopped; tallies the answers by status (0: no answer).
class GuessFlood {
 public:
  explicit GuessFlood(int port) {
    for (int t = 0; t < 2; ++t)
      threads_.emplace_back([this, port, t] {
        std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 17);
        while (!stop_.load()) {
          int status = 0;
          std::string retry_after;
          try {
            auto r = as(port, random_token(rng));
            status = r.status;
            retry_after = r.header("retry-after");
          } catch (const std::exception&) {
          }
          std::lock_guard lock(mu_);
          ++statuses_[status];
          if (status == 429 && retry_after.empty()) ++limited_without_retry_after_;
        }
      });
  }
  ~GuessFlood() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  int count(int status) const {
    std::lock_guard lock(mu_);
    auto it = statuses_.find(status);
    return it == statuses_.end() ? 0 : it->second;
  }
  int total() const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [status, k] : statuses_)
      n += k;
    return n;
  }
  int limited_without_retry_after() const {
    std::lock_guard lock(mu_);
    return limited_without_retry_after_;
  }
  // Waits until the address's budget is spent (a guess was answered 429).
  bool wait_spent() {
    return eventually([this] { return count(429) > 0; }, 20s);
  }

 private:
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;  // guards statuses_, limited_without_retry_after_
  std::map<int, int> statuses_;
  int limited_without_retry_after_ = 0;
  std::vector<std::thread> threads_;
};

class AuthGuessing : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(dir_->path(), {"--rate-limit-per-addr-rps", std::to_string(kAddrRps),
                                        "--auth-cache-ttl-ms", "1s"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static int port() { return daemon_->port(); }
  static std::pair<int64_t, std::string> create(const std::string& name) {
    auto r = http_request(port(), "POST", "/api/v1/tokens",
                          json{{"name", name}, {"role", "viewer"}}.dump(),
                          {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 201) << r.body;
    auto j = json::parse(r.body, nullptr, false);
    return {j.value("id", int64_t{0}), j.value("token", "")};
  }
  static double metric(const std::string& series) { return metric_value(port(), series, 0); }

  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* AuthGuessing::dir_ = nullptr;
Daemon* AuthGuessing::daemon_ = nullptr;

TEST_F(AuthGuessing, AValidTokenKeepsBeingServedWhileItsAddressGuesses) {
  auto [id, valid] = create("behind-the-nat");
  ASSERT_EQ(as(port(), valid).status, 200);  // now cached
  const double limited_before = metric("metricsd_rate_limited_total{limit=\"address\"}");
  const double unknown_before = metric("metricsd_auth_denied_total{reason=\"unknown\"}");
  const double lookups_before = metric("metricsd_auth_token_lookups_total");
  const auto started = std::chrono::steady_clock::now();

  GuessFlood flood(port());
  ASSERT_TRUE(flood.wait_spent()) << "the guesses never spent the address's budget";
  // Three cache lifetimes: the valid token's entry expires and is checked again in the
  // database while the address is over its budget.
  int served = 0, refused = 0;
  HttpResult last_refusal;
  for (auto until = std::chrono::steady_clock::now() + 3500ms;
       std::chrono::steady_clock::now() < until;) {
    auto r = as(port(), valid);
    if (r.status == 200) {
      ++served;
    } else {
      ++refused;
      last_refusal = r;
    }
    std::this_thread::sleep_for(50ms);
  }
  flood.stop();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  EXPECT_EQ(refused, 0) << "a valid token was refused for its address's guesses: "
                        << last_refusal.status << " " << last_refusal.body;
  EXPECT_GE(served, 20);
  // The guesses: 401 while the budget lasts, then 429 with Retry-After; nothing else.
  const int unauthorized = flood.count(401), limited = flood.count(429);
  EXPECT_EQ(unauthorized + limited, flood.total()) << "guesses answered otherwise";
  EXPECT_GE(unauthorized, kAddrBurst);
  EXPECT_GT(limited, 0);
  EXPECT_EQ(flood.limited_without_retry_after(), 0);
  // Each counted once, by reason.
  EXPECT_EQ(metric("metricsd_rate_limited_total{limit=\"address\"}") - limited_before, limited);
  EXPECT_EQ(metric("metricsd_auth_denied_total{reason=\"unknown\"}") - unknown_before,
            unauthorized);
  // The database saw only the budget's worth of guesses (two guessing threads may both
  // take the last unit), plus the valid token's re-checks.
  const double lookups = metric("metricsd_auth_token_lookups_total") - lookups_before;
  EXPECT_LE(lookups, 2 * (kAddrBurst + kAddrRps * seconds) + seconds + 5)
      << "over " << seconds << " s, of " << flood.total() << " guesses";
}

TEST_F(AuthGuessing, ATokenNeverUsedBeforeIsServedDuringTheFlood) {
  auto [id, fresh] = create("new-agent");  // not yet used: not in the cache
  // It is in the index of live tokens (the admin token, the earlier test's and this one).
  EXPECT_TRUE(eventually([] { return metric("metricsd_auth_known_tokens") >= 3; }, 5s));
  GuessFlood flood(port());
  ASSERT_TRUE(flood.wait_spent());
  auto first = as(port(), fresh);
  EXPECT_EQ(first.status, 200) << first.body;

  // One made by the command line meanwhile reaches this daemon by NOTIFY.
  std::string out;
  ASSERT_EQ(Daemon::run({"token", "create", "--role", "viewer", "--name", "from-cli-flood",
                         "--data-dir", dir_->path().string()},
                        &out),
            0)
      << out;
  auto at = out.find("mtd_");
  ASSERT_NE(at, std::string::npos) << out;
  std::string cli = out.substr(at, 47);
  int status = 0;
  EXPECT_TRUE(eventually(
      [&] {
        status = as(port(), cli).status;
        return status == 200;
      },
      3s))
      << "last answer " << status;

  // A revoked token is unknown again: refused (401, or 429 while the address is over its
  // budget), never served.
  ASSERT_EQ(http_request(port(), "DELETE", "/api/v1/tokens/" + std::to_string(id)).status, 200);
  auto revoked = as(port(), fresh);
  EXPECT_TRUE(revoked.status == 401 || revoked.status == 429) << revoked.status;
  flood.stop();
  EXPECT_EQ(flood.count(401) + flood.count(429), flood.total());
}

// Each open stream checks its token again every auth.cache_ttl_ms; those checks must not
// spend the token's request budget (1/s, burst 4 here), or idle streams would starve the
// token's requests.
TEST(AuthStreamRecheck, IdleStreamsSpendNoRequestBudget) {
  TempDir dir;
  Daemon d(dir.path(), {"--rate-limit-per-token-rps", "1", "--rate-limit-burst", "4",
                        "--auth-cache-ttl-ms", "1s"});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  auto r = http_request(d.port(), "POST", "/api/v1/tokens", R"({"name":"dash","role":"viewer"})",
                        {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 201) << r.body;
  const auto created = json::parse(r.body);
  const std::string token = created["token"];

  // Four upgrades spend the burst; the streams then sit through three re-checks each.
  std::vector<std::unique_ptr<WsClient>> streams;
  for (int i = 0; i < 4; ++i)
    streams.push_back(std::make_unique<WsClient>(
        d.port(), WsOptions{.headers = {{"Authorization", "Bearer " + token}}}));
  std::this_thread::sleep_for(3500ms);
  for (auto& s : streams)
    EXPECT_FALSE(s->wait_closed(10ms)) << "a stream closed while its token was good";
  auto served = as(d.port(), token);
  EXPECT_EQ(served.status, 200) << "the re-checks spent the token's budget: " << served.body;
  EXPECT_EQ(metric_value(d.port(), "metricsd_rate_limited_total{limit=\"token_requests\"}", 0), 0);

  // Revoking the token still closes them.
  ASSERT_EQ(http_request(d.port(), "DELETE", "/api/v1/tokens/" + created["id"].dump()).status, 200);
  for (auto& s : streams)
    EXPECT_EQ(s->wait_closed(5s), 1008);
}

}  // namespace
}  // namespace metricsd::test
