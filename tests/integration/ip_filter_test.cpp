// The network.* address lists against the real daemon. On Linux all of 127.0.0.0/8 is
// loopback, so a test client binds its source address (RawConnection(port, source)) to be
// another client: 127.0.0.1 is the admin's machine, 127.0.0.66 a denied one, and so on.
// Covered: deny and allow close a connection before anything is read (WebSocket upgrades
// too); the per-level lists answer 403 before the token is looked up (no auth failure
// counted, no lookup, no per-address budget spent); they do not nest; refusals are counted
// and their log lines paced; the lists change at run time; bad entries stop start-up.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "raw_http.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

// A token no daemon has issued.
constexpr const char* kBogusToken = "mdt_this_token_was_never_issued_0123456789abcdef";

const Headers kUpgrade = {{"Upgrade", "websocket"},
                          {"Connection", "Upgrade"},
                          {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                          {"Sec-WebSocket-Version", "13"}};

// One request from `source` on a new connection. nullopt when the server closed the
// connection without an answer (what a refusal at accept may look like, see refused()).
std::optional<RawAnswer> request_from(int port, const std::string& source,
                                      const std::string& method, const std::string& target,
                                      const std::string& token, const std::string& body = "",
                                      const Headers& headers = {}) {
  RawConnection c(port, source);
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool connection_given = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    connection_given = connection_given || k == "Connection";
  }
  if (!connection_given) req += "Connection: close\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty() || method == "POST")
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  c.send(req);  // may fail: a refused connection is closed at once
  return c.read_answer(10s);
}

// A connection refused at accept: closed before the request was read, perhaps after a
// short 403 (written without reading, so the client may see only the close).
testing::AssertionResult refused(const std::optional<RawAnswer>& a) {
  if (!a) return testing::AssertionSuccess();
  if (a->status == 403 &&
      a->body.find("connections from this address are not allowed") != std::string::npos)
    return testing::AssertionSuccess();
  return testing::AssertionFailure() << "answered " << a->status << ": " << a->body;
}

// The 403 of a per-level list, naming the list and not echoing the token.
void expect_level_refusal(const std::optional<RawAnswer>& a, const std::string& list,
                          const std::string& token) {
  ASSERT_TRUE(a) << "no answer";
  EXPECT_EQ(a->status, 403) << a->body;
  auto j = json::parse(a->body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << a->body;
  EXPECT_EQ(j["error"]["code"], "permission_denied") << a->body;
  const std::string msg = j["error"]["message"].get<std::string>();
  EXPECT_NE(msg.find("not allowed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("network." + list), std::string::npos) << msg;
  EXPECT_EQ(a->body.find(token), std::string::npos) << "the token is echoed: " << a->body;
}

double refusals(int port, const std::string& list) {
  return metric_value(port, "metricsd_http_refused_by_address_total{list=\"" + list + "\"}", 0);
}

size_t count_lines_with(const std::string& log, const std::string& part) {
  size_t n = 0;
  for (size_t p = log.find(part); p != std::string::npos; p = log.find(part, p + 1))
    ++n;
  return n;
}

// One daemon with every list set:
//   deny 127.0.0.66; allow 127.0.0.0/25 (so 127.0.0.200 may not connect);
//   allow_write 127.0.0.1 and .7; allow_operator .8; allow_admin .1 only.
// rate_limit.per_addr_rps 1 (burst 2) makes the per-address auth budget easy to see.
class IpFilterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(
        dir_->path(),
        {"--network-deny", "127.0.0.66", "--network-allow", "127.0.0.0/25, 127.0.0.66",
         "--network-allow-write", "127.0.0.1, 127.0.0.7", "--network-allow-operator", "127.0.0.8",
         "--network-allow-admin", "127.0.0.1", "--rate-limit-per-addr-rps", "1"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  int port() const { return daemon_->port(); }
  std::string admin() const { return admin_token(port()); }
  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* IpFilterTest::dir_ = nullptr;
Daemon* IpFilterTest::daemon_ = nullptr;

TEST_F(IpFilterTest, DeniedAddressIsClosedBeforeItsRequestIsReadWhileOthersAreServed) {
  const double before = refusals(port(), "deny");
  // A valid admin token and a valid heartbeat change nothing: the request is never read.
  EXPECT_TRUE(
      refused(request_from(port(), "127.0.0.66", "POST", "/api/v1/nodes/denied-node/heartbeat",
                           admin(), R"({"type":"x"})")));
  EXPECT_TRUE(refused(request_from(port(), "127.0.0.66", "GET", "/healthz", "")));
  EXPECT_EQ(refusals(port(), "deny"), before + 2);
  // Its neighbours are served.
  auto ok = request_from(port(), "127.0.0.65", "GET", "/healthz", "");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto beat = request_from(port(), "127.0.0.1", "POST", "/api/v1/nodes/allowed-node/heartbeat",
                           admin(), R"({"type":"x"})");
  ASSERT_TRUE(beat);
  EXPECT_EQ(beat->status, 200) << beat->body;
  EXPECT_EQ(http_request(port(), "GET", "/api/v1/nodes/allowed-node").status, 200);
  EXPECT_EQ(http_request(port(), "GET", "/api/v1/nodes/denied-node").status, 404);
}

TEST_F(IpFilterTest, AddressOutsideTheAllowListIsClosedAndDenyWinsOverAllow) {
  const double before = refusals(port(), "allow");
  EXPECT_TRUE(refused(request_from(port(), "127.0.0.200", "GET", "/healthz", "")));
  EXPECT_TRUE(refused(request_from(port(), "127.0.0.128", "GET", "/api/v1/nodes", admin())));
  EXPECT_EQ(refusals(port(), "allow"), before + 2);
  auto edge = request_from(port(), "127.0.0.127", "GET", "/healthz", "");
  ASSERT_TRUE(edge);
  EXPECT_EQ(edge->status, 200);
  // 127.0.0.66 is in both lists: deny decides.
  const double denied = refusals(port(), "deny");
  EXPECT_TRUE(refused(request_from(port(), "127.0.0.66", "GET", "/healthz", "")));
  EXPECT_EQ(refusals(port(), "deny"), denied + 1);
  EXPECT_EQ(refusals(port(), "allow"), before + 2);
}

TEST_F(IpFilterTest, AllowAdminRefusesAdminRoutesFromOtherAddressesEvenWithTheAdminToken) {
  const double before = refusals(port(), "allow_admin");
  expect_level_refusal(request_from(port(), "127.0.0.2", "GET", "/api/v1/tokens", admin()),
                       "allow_admin", admin());
  expect_level_refusal(request_from(port(), "127.0.0.2", "POST", "/api/v1/config/update", admin(),
                                    R"({"settings":{"network.allow_admin":""}})"),
                       "allow_admin", admin());
  EXPECT_EQ(refusals(port(), "allow_admin"), before + 2);
  // The same token from the same address on a viewer route, and a WebSocket (viewer).
  auto nodes = request_from(port(), "127.0.0.2", "GET", "/api/v1/nodes", admin());
  ASSERT_TRUE(nodes);
  EXPECT_EQ(nodes->status, 200) << nodes->body;
  auto ws = request_from(port(), "127.0.0.2", "GET", "/ws/metrics", admin(), "", kUpgrade);
  ASSERT_TRUE(ws);
  EXPECT_EQ(ws->status, 101) << ws->body;
  // And from the listed address, the admin route.
  auto tokens = request_from(port(), "127.0.0.1", "GET", "/api/v1/tokens", admin());
  ASSERT_TRUE(tokens);
  EXPECT_EQ(tokens->status, 200) << tokens->body;
  // The setting still says what it said: the refused update changed nothing.
  EXPECT_EQ(
      json::parse(
          http_request(port(), "GET", "/api/v1/config").body)["settings"]["network"]["allow_admin"],
      "127.0.0.1");
}

TEST_F(IpFilterTest, LevelListsDoNotNest) {
  const std::string fleet = R"({"type":"pause"})";
  // allow_operator is 127.0.0.8 alone: the admin's own address may not use operator routes.
  expect_level_refusal(
      request_from(port(), "127.0.0.1", "POST", "/api/v1/fleet/commands", admin(), fleet),
      "allow_operator", admin());
  auto op = request_from(port(), "127.0.0.8", "POST", "/api/v1/fleet/commands", admin(), fleet);
  ASSERT_TRUE(op);
  EXPECT_EQ(op->status, 201) << op->body;
  // allow_write: 127.0.0.1 and .7; the operator's address may not write.
  const std::string write = R"({"node":"n7","metrics":{"system.cpu_util":1}})";
  expect_level_refusal(request_from(port(), "127.0.0.8", "POST", "/api/v1/metrics", admin(), write),
                       "allow_write", admin());
  auto w = request_from(port(), "127.0.0.7", "POST", "/api/v1/metrics", admin(), write);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, 200) << w->body;
  // An agent's command list (agent or viewer access) has no list: served from anywhere allowed.
  auto cmds = request_from(port(), "127.0.0.9", "GET", "/api/v1/nodes/n7/commands", admin());
  ASSERT_TRUE(cmds);
  EXPECT_EQ(cmds->status, 200) << cmds->body;
}

TEST_F(IpFilterTest, RefusalComesBeforeTheTokenIsLookedUp) {
  const std::string unknown = "metricsd_auth_denied_total{reason=\"unknown\"}";
  const std::string missing = "metricsd_auth_denied_total{reason=\"missing\"}";
  const std::string lookups = "metricsd_auth_token_lookups_total";
  const double unknown_before = metric_value(port(), unknown, 0);
  const double missing_before = metric_value(port(), missing, 0);
  const double lookups_before = metric_value(port(), lookups, 0);
  // A bad token and no token on an admin route from an unlisted address: 403, not 401.
  expect_level_refusal(request_from(port(), "127.0.0.5", "GET", "/api/v1/tokens", kBogusToken),
                       "allow_admin", kBogusToken);
  expect_level_refusal(request_from(port(), "127.0.0.5", "GET", "/api/v1/audit", ""), "allow_admin",
                       kBogusToken);
  // From a denied address: not even an answer from the router.
  EXPECT_TRUE(refused(request_from(port(), "127.0.0.66", "GET", "/api/v1/tokens", kBogusToken)));
  EXPECT_EQ(metric_value(port(), unknown, 0), unknown_before);
  EXPECT_EQ(metric_value(port(), missing, 0), missing_before);
  EXPECT_EQ(metric_value(port(), lookups, 0), lookups_before);
  // The counters do move when the token is looked at: the same bad token from the listed
  // address is a 401.
  auto listed = request_from(port(), "127.0.0.1", "GET", "/api/v1/tokens", kBogusToken);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 401) << listed->body;
  EXPECT_EQ(metric_value(port(), unknown, 0), unknown_before + 1);
  EXPECT_EQ(metric_value(port(), lookups, 0), lookups_before + 1);
}

TEST_F(IpFilterTest, RefusedRequestsSpendNoneOfTheAddressesAuthBudget) {
  // rate_limit.per_addr_rps = 1, burst 2: three unknown tokens in a row would be a 429.
  for (int i = 0; i < 6; ++i)
    expect_level_refusal(request_from(port(), "127.0.0.6", "GET", "/api/v1/tokens", kBogusToken),
                         "allow_admin", kBogusToken);
  // The budget is whole: an unknown token on a viewer route is looked up (401)...
  auto first = request_from(port(), "127.0.0.6", "GET", "/api/v1/nodes", kBogusToken);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 401) << first->body;
  // ...and guessing on, the address runs out of it (so the budget is in force here).
  bool limited = false;
  for (int i = 0; i < 10 && !limited; ++i) {
    auto a = request_from(port(), "127.0.0.6", "GET", "/api/v1/nodes", kBogusToken);
    ASSERT_TRUE(a);
    limited = a->status == 429;
  }
  EXPECT_TRUE(limited) << "no 429 within 10 unknown tokens: the budget test proves nothing";
}

TEST_F(IpFilterTest, WebSocketUpgradesObeyTheConnectionLists) {
  const double denied = refusals(port(), "deny");
  const double outside = refusals(port(), "allow");
  EXPECT_TRUE(
      refused(request_from(port(), "127.0.0.66", "GET", "/ws/metrics", admin(), "", kUpgrade)));
  EXPECT_TRUE(refused(request_from(port(), "127.0.0.200", "GET",
                                   "/ws/metrics?access_token=" + admin(), "", "", kUpgrade)));
  EXPECT_EQ(refusals(port(), "deny"), denied + 1);
  EXPECT_EQ(refusals(port(), "allow"), outside + 1);
  auto ok = request_from(port(), "127.0.0.3", "GET", "/ws/metrics", admin(), "", kUpgrade);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 101) << ok->body;
}

TEST_F(IpFilterTest, AFloodOfRefusalsIsCountedInFullAndLoggedSparingly) {
  const double before = refusals(port(), "deny");
  const std::string line = "refused by network.";
  const size_t lines_before = count_lines_with(daemon_->log(), line) +
                              count_lines_with(daemon_->log(), "refused: not in network.");
  constexpr int kFlood = 40;
  for (int i = 0; i < kFlood; ++i)
    EXPECT_TRUE(refused(request_from(port(), "127.0.0.66", "GET", "/healthz", "")));
  for (int i = 0; i < kFlood; ++i)
    request_from(port(), "127.0.0.2", "GET", "/api/v1/tokens", admin());
  EXPECT_EQ(refusals(port(), "deny"), before + kFlood);
  // The log: one line per 10 s at most (the flood takes far less), with the count of the
  // rest; the daemon's log is written asynchronously, so wait for it (bounded) to hold a
  // refusal line at all.
  EXPECT_TRUE(eventually([&] { return count_lines_with(daemon_->log(), line) > 0; }, 5s))
      << daemon_->log();
  const std::string log = daemon_->log();
  const size_t added = count_lines_with(log, line) +
                       count_lines_with(log, "refused: not in network.") - lines_before;
  EXPECT_LE(added, 2u) << log;
}

// The lists change at run time through POST /api/v1/config/update, as a whole or not at all.
TEST(IpFilterLive, ListsChangeAtRunTimeAndABadChangeChangesNothing) {
  TempDir dir;
  Daemon d(dir.path(), {"--network-allow", "127.0.0.1"});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  const int port = d.port();
  const std::string admin = admin_token(port);
  EXPECT_TRUE(refused(request_from(port, "127.0.0.2", "GET", "/healthz", "")));
  EXPECT_TRUE(refused(request_from(port, "127.0.0.2", "GET", "/ws/metrics", admin, "", kUpgrade)));

  // A bad list is refused naming the setting and the entry; nothing changes.
  auto bad = http_request(port, "POST", "/api/v1/config/update",
                          R"({"settings":{"network.allow":"127.0.0.1, 127.0.0.2/33"}})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  auto j = json::parse(bad.body);
  EXPECT_EQ(j["error"]["details"][0]["field"], "settings.network.allow") << bad.body;
  EXPECT_NE(j["error"]["message"].get<std::string>().find("entry 2 \"127.0.0.2/33\""),
            std::string::npos)
      << bad.body;
  EXPECT_TRUE(refused(request_from(port, "127.0.0.2", "GET", "/healthz", "")));

  // Widened: the next connection from 127.0.0.2 is served, its WebSocket too.
  auto wide = http_request(port, "POST", "/api/v1/config/update",
                           R"({"settings":{"network.allow":"127.0.0.1, 127.0.0.2"}})");
  ASSERT_EQ(wide.status, 200) << wide.body;
  EXPECT_EQ(json::parse(wide.body)["changed"]["network.allow"]["to"], "127.0.0.1, 127.0.0.2");
  auto ok = request_from(port, "127.0.0.2", "GET", "/healthz", "");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto ws = request_from(port, "127.0.0.2", "GET", "/ws/metrics", admin, "", kUpgrade);
  ASSERT_TRUE(ws);
  EXPECT_EQ(ws->status, 101) << ws->body;

  // A per-level list set at run time applies to the next request.
  ASSERT_EQ(http_request(port, "POST", "/api/v1/config/update",
                         R"({"settings":{"network.allow_admin":"127.0.0.1"}})")
                .status,
            200);
  expect_level_refusal(request_from(port, "127.0.0.2", "GET", "/api/v1/tokens", admin),
                       "allow_admin", admin);
  // Deny added at run time wins over allow.
  ASSERT_EQ(http_request(port, "POST", "/api/v1/config/update",
                         R"({"settings":{"network.deny":"127.0.0.2"}})")
                .status,
            200);
  EXPECT_TRUE(refused(request_from(port, "127.0.0.2", "GET", "/healthz", "")));
  auto config = json::parse(http_request(port, "GET", "/api/v1/config").body);
  EXPECT_EQ(config["settings"]["network"]["deny"], "127.0.0.2");
  EXPECT_EQ(config["settings"]["network"]["allow"], "127.0.0.1, 127.0.0.2");
}

TEST(IpFilterSettings, BadListsStopStartUpWithExit2AndOneLineNamingTheEntry) {
  TempDir dir;
  const std::string file = (dir.path() / "bad.json").string();
  std::ofstream(file) << R"({"network": {"allow_write": "::1, fd00::/129"}})";
  struct Case {
    std::vector<std::string> args;
    std::vector<std::pair<std::string, std::string>> env;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {{"--network-deny", "10.0.0.0/8,10.0.0.300"},
       {},
       "setting network.deny: entry 2 \"10.0.0.300\": octet \"300\" is over 255"},
      {{"--network-allow-admin", "10.0.0.1/8"},
       {},
       "setting network.allow_admin: entry 1 \"10.0.0.1/8\": the address has bits set past the "
       "/8 prefix (the range is 10.0.0.0/8)"},
      {{"--network-allow-operator", "10.0.0.0/8 10.1.0.0/16"},
       {},
       "setting network.allow_operator: entry 1 \"10.0.0.0/8 10.1.0.0/16\": contains a space"},
      {{}, {{"METRICSD_NETWORK_ALLOW", "127.0.0.1,,::1"}}, "setting network.allow: entry 2 \"\""},
      {{"--config", file}, {}, "setting network.allow_write: entry 2 \"fd00::/129\""},
  };
  for (const auto& c : cases) {
    std::string out;
    std::vector<std::string> args = {"serve", "--data-dir", (dir.path() / "d").string()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    EXPECT_EQ(Daemon::run(args, &out, c.env), 2) << out;
    EXPECT_NE(out.find(c.expect), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "d"));
}

}  // namespace
}  // namespace metricsd::test
