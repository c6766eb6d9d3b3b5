// InfluxDB 1.x/2.x clients and Telegraf against the real daemon: the real third-party clients
// (the Debian python3-influxdb, npm `influx` and `@influxdata/influxdb-client`, installed by
// scripts/deps.sh; scripts in tests/integration/clients/) write points that are read back
// exactly from the daemon's PostgreSQL; and raw HTTP for what those clients rely on: /ping,
// /health, /query's start-up statements, the token as Basic password, p= and Token, and the
// errors a client gets otherwise. Each test writes to nodes of its own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fmt/format.h>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ingest_support.hpp"
#include "tool_process.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kClients = std::string(METRICSD_SOURCE_DIR) + "/tests/integration/clients";

std::string base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  while (out.size() % 4)
    out.push_back('=');
  return out;
}

Headers basic(const std::string& user, const std::string& password) {
  return {{"Authorization", "Basic " + base64(user + ":" + password)}};
}

bool have(const std::string& path) {
  return access(path.c_str(), R_OK) == 0;
}

class InfluxClients : public IngestBase {
 protected:
  static void SetUpTestSuite() {
    start({});
    for (std::string role : {"agent", "viewer"}) {
      auto r = http_request(daemon_->port(), "POST", "/api/v1/tokens",
                            json{{"name", "influx-" + role}, {"role", role}}.dump(),
                            {{"Content-Type", "application/json"}});
      ASSERT_EQ(r.status, 201) << r.body;
      (role == "agent" ? agent_ : viewer_) = json::parse(r.body)["token"];
    }
  }
  static void TearDownTestSuite() { stop(); }

  // Runs a client script to its end; its output when it failed.
  static std::string run_client(const std::string& interpreter, const std::string& script,
                                const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kClients + "/" + script};
    argv.insert(argv.end(), args.begin(), args.end());
    ToolProcess p(interpreter, argv);
    auto rc = p.wait_exit(60s);
    if (rc == 0) return "";
    return fmt::format("{} exited {}: {}", script, rc ? std::to_string(*rc) : "(timeout)", p.log());
  }

  static inline std::string agent_, viewer_;
};

// ---- the real clients --------------------------------------------------------------------

TEST_F(InfluxClients, PythonInfluxdbClientWritesEveryPrecisionWithBasicAuth) {
  if (!have("/usr/lib/python3/dist-packages/influxdb/client.py"))
    GTEST_SKIP() << "python3-influxdb is not installed (scripts/deps.sh installs it)";
  const int64_t base = now_s_ - 300;
  ASSERT_EQ(run_client("/usr/bin/python3", "influxdb_python.py",
                       {std::to_string(port()), agent_, "py", std::to_string(base)}),
            "");
  // Booleans become 0/1, the string field is skipped; host names the node; sub-millisecond
  // parts are cut off (the store keeps milliseconds).
  const std::vector<std::pair<std::string, int64_t>> expected = {{"s", base * 1000},
                                                                 {"ms", base * 1000 + 250},
                                                                 {"u", base * 1000 + 250},
                                                                 {"n", base * 1000 + 250}};
  for (const auto& [precision, ms] : expected) {
    std::string node = "py-" + precision;
    json labels = {{"cpu", "cpu0"}};
    EXPECT_EQ(db().samples(node),
              sorted({row("cpu.usage_idle", node, labels, 97.25, ms),
                      row("cpu.procs", node, labels, 42, ms), row("cpu.ok", node, labels, 1, ms)}))
        << precision;
  }
}

TEST_F(InfluxClients, NpmInfluxClientWritesWithQueryCredentials) {
  if (!have(kClients + "/node_modules/influx/package.json"))
    GTEST_SKIP() << "npm influx is not installed (scripts/deps.sh installs it)";
  const int64_t base = now_s_ - 200;
  ASSERT_EQ(run_client("/usr/bin/node", "influx_v1.js",
                       {std::to_string(port()), agent_, "js1", std::to_string(base)}),
            "");
  EXPECT_EQ(db().samples("js1"),
            sorted({row("gpu.temp_c", "js1", {{"gpu", "0"}}, 71.5, base * 1000),
                    row("gpu.util", "js1", {{"gpu", "0"}}, 93, base * 1000),
                    row("gpu.temp_c", "js1", {{"gpu", "1"}}, 64.25, base * 1000 + 1500)}));
}

TEST_F(InfluxClients, NpmInfluxdbClientV2WritesGzipWithTokenScheme) {
  if (!have(kClients + "/node_modules/@influxdata/influxdb-client/package.json"))
    GTEST_SKIP() << "npm @influxdata/influxdb-client is not installed (scripts/deps.sh)";
  const int64_t base = now_s_ - 100;
  ASSERT_EQ(run_client("/usr/bin/node", "influxdb_client_v2.js",
                       {std::to_string(port()), agent_, "js2", std::to_string(base)}),
            "");
  for (const auto& [precision, ms] :
       std::vector<std::pair<std::string, int64_t>>{{"s", base * 1000},
                                                    {"ms", base * 1000 + 250},
                                                    {"us", base * 1000 + 250},
                                                    {"ns", base * 1000 + 250}}) {
    std::string node = "js2-" + precision;
    EXPECT_EQ(db().samples(node), sorted({row("llm.tokens_per_s", node, json::object(), 812.5, ms),
                                          row("llm.requests", node, json::object(), 7, ms)}))
        << precision;
  }
}

// ---- what the clients call at start ------------------------------------------------------

TEST_F(InfluxClients, PingAnswers204WithVersionHeadersOnGetAndHeadWithoutToken) {
  for (const char* method : {"GET", "HEAD"}) {
    auto r = http_request(port(), method, "/ping", "", {{"Authorization", ""}});
    EXPECT_EQ(r.status, 204) << method << " " << r.body;
    EXPECT_EQ(r.header("x-influxdb-version"), "1.8.10") << method;
    EXPECT_EQ(r.header("x-influxdb-build"), "OSS") << method;
    EXPECT_TRUE(r.body.empty()) << method;
  }
  auto verbose = http_request(port(), "GET", "/ping?verbose=true", "", {{"Authorization", ""}});
  EXPECT_EQ(verbose.status, 200);
  EXPECT_EQ(json::parse(verbose.body, nullptr, false)["version"], "1.8.10");
  EXPECT_EQ(http_request(port(), "POST", "/ping", "").status, 405);
}

TEST_F(InfluxClients, HealthAnswersTheBodyTwoXClientsRead) {
  auto r = http_request(port(), "GET", "/health", "", {{"Authorization", ""}});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body, nullptr, false);
  EXPECT_EQ(j["name"], "influxdb");
  EXPECT_EQ(j["status"], "pass");
  EXPECT_EQ(j["version"], "1.8.10");
  EXPECT_TRUE(j["message"].is_string());
  EXPECT_EQ(r.header("x-influxdb-version"), "1.8.10");
}

TEST_F(InfluxClients, QueryCreatesAndShowsDatabasesWithAWriteOnlyToken) {
  // Telegraf's outputs.influxdb at start, with the token as Basic password.
  auto create = http_request(port(), "POST", "/query?q=CREATE+DATABASE+%22telegraf-db%22", "",
                             basic("telegraf", agent_));
  ASSERT_EQ(create.status, 200) << create.body;
  EXPECT_EQ(json::parse(create.body), json::parse(R"({"results":[{"statement_id":0}]})"));
  // A form body, two statements.
  Headers form = basic("x", agent_);
  form.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  auto two = http_request(port(), "POST", "/query",
                          "db=ignored&q=CREATE+DATABASE+formdb%3B+SHOW+DATABASES", form);
  ASSERT_EQ(two.status, 200) << two.body;
  json results = json::parse(two.body)["results"];
  ASSERT_EQ(results.size(), 2u) << two.body;
  EXPECT_EQ(results[1]["statement_id"], 1);
  json values = results[1]["series"][0]["values"];
  EXPECT_NE(std::find(values.begin(), values.end(), json::array({"telegraf-db"})), values.end())
      << two.body;
  EXPECT_NE(std::find(values.begin(), values.end(), json::array({"formdb"})), values.end());
  EXPECT_EQ(results[1]["series"][0]["columns"], json::array({"name"}));
  // GET with u= and p=.
  auto show = http_request(port(), "GET", "/query?q=show%20databases&u=any&p=" + viewer_, "",
                           {{"Authorization", ""}});
  EXPECT_EQ(show.status, 200) << show.body;
  EXPECT_NE(show.body.find("telegraf-db"), std::string::npos);
}

TEST_F(InfluxClients, QueryRefusesOtherInfluxQLNamingTheStatement) {
  const std::string counter =
      "metricsd_influx_query_statements_total{statement=\"refused_unsupported\"}";
  double unsupported = scrape(port(), counter);
  auto select = http_request(port(), "GET", "/query?db=x&q=SELECT+mean(usage)+FROM+cpu");
  EXPECT_EQ(select.status, 400) << select.body;
  std::string err = json::parse(select.body, nullptr, false).value("error", "");
  EXPECT_NE(err.find("SELECT mean(usage) FROM cpu"), std::string::npos) << select.body;
  EXPECT_NE(err.find("CREATE DATABASE"), std::string::npos) << "says what is answered";
  EXPECT_EQ(scrape(port(), counter), unsupported + 1);
  // A refused statement anywhere refuses the whole request: nothing is created.
  auto mixed = http_request(port(), "POST", "/query?q=CREATE+DATABASE+never%3BDELETE+FROM+cpu");
  EXPECT_EQ(mixed.status, 400) << mixed.body;
  EXPECT_NE(mixed.body.find("DELETE FROM cpu"), std::string::npos);
  EXPECT_EQ(http_request(port(), "GET", "/query?q=SHOW+DATABASES").body.find("never"),
            std::string::npos);
  auto drop = http_request(port(), "POST", "/query?q=DROP+DATABASE+telegraf");
  EXPECT_EQ(drop.status, 400);
  EXPECT_NE(drop.body.find("DROP DATABASE is not supported"), std::string::npos) << drop.body;
  for (const std::string target : {"/query", "/query?q=", "/query?q=%20%3B%20"}) {
    auto missing = http_request(port(), "GET", target);
    EXPECT_EQ(missing.status, 400) << target;
    EXPECT_EQ(json::parse(missing.body, nullptr, false)["error"],
              "missing required parameter \"q\"")
        << target;
  }
  auto nameless = http_request(port(), "POST", "/query?q=CREATE+DATABASE");
  EXPECT_EQ(nameless.status, 400);
  EXPECT_NE(nameless.body.find("needs a name"), std::string::npos);
  // Without a token: 401 like every other route.
  EXPECT_EQ(
      http_request(port(), "GET", "/query?q=SHOW+DATABASES", "", {{"Authorization", ""}}).status,
      401);
}

// ---- the token's schemes ------------------------------------------------------------------

TEST_F(InfluxClients, V2WriteTakesTokenSchemeOrgBucketAndPrecision) {
  const int64_t ms = (now_s_ - 50) * 1000 + 7;
  Headers h = {{"Authorization", "Token " + agent_}, {"Content-Type", "text/plain"}};
  auto r = http_request(port(), "POST", "/api/v2/write?org=o&bucket=b&precision=ms",
                        fmt::format("mem,host=v2raw used_pct=61.5 {}", ms), h);
  EXPECT_EQ(r.status, 204) << r.body;
  h.emplace_back("Content-Encoding", "gzip");
  r = http_request(port(), "POST", "/api/v2/write?org=o&bucket=b&precision=s",
                   gzip(fmt::format("mem,host=v2raw free_pct=38.5 {}", now_s_ - 50)), h);
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(db().samples("v2raw"),
            sorted({row("mem.used_pct", "v2raw", json::object(), 61.5, ms),
                    row("mem.free_pct", "v2raw", json::object(), 38.5, (now_s_ - 50) * 1000)}));
  // A viewer may not write, whatever the scheme.
  auto viewer = http_request(port(), "POST", "/api/v2/write?bucket=b", "m,host=v2raw v=1",
                             {{"Authorization", "Token " + viewer_}});
  EXPECT_EQ(viewer.status, 403) << viewer.body;
}

TEST_F(InfluxClients, EverySchemeCarriesTheTokenOnAViewerRoute) {
  const std::string route = "/api/v1/nodes";
  EXPECT_EQ(http_request(port(), "GET", route, "", {{"Authorization", "Token " + viewer_}}).status,
            200);
  EXPECT_EQ(http_request(port(), "GET", route, "", {{"Authorization", "token " + viewer_}}).status,
            200);
  EXPECT_EQ(http_request(port(), "GET", route, "", basic("anyone", viewer_)).status, 200);
  EXPECT_EQ(
      http_request(port(), "GET", route + "?u=anyone&p=" + viewer_, "", {{"Authorization", ""}})
          .status,
      200);
  // u= and p= pass the parameter checks of strict routes.
  auto q = http_request(port(), "GET", "/api/v1/query?metric=cpu.procs&from=-1h&u=x&p=" + viewer_,
                        "", {{"Authorization", ""}});
  EXPECT_EQ(q.status, 200) << q.body;
  // Wrong credentials in each scheme: 401.
  for (const Headers& h : {basic("telegraf", "mtd_wrong"), basic("telegraf", ""),
                           Headers{{"Authorization", "Token x"}},
                           Headers{{"Authorization", "Basic !!not-base64!!"}}}) {
    auto r = http_request(port(), "GET", route, "", h);
    EXPECT_EQ(r.status, 401) << h[0].second << " " << r.body;
  }
  auto bad_p = http_request(port(), "GET", route + "?u=x&p=mtd_wrong", "", {{"Authorization", ""}});
  EXPECT_EQ(bad_p.status, 401) << bad_p.body;
  EXPECT_EQ(error_message(bad_p), "the token is unknown or revoked");
  // A header with a valid token wins over p=: a wrong header is not rescued by p=.
  auto header_wins = http_request(port(), "GET", route + "?p=" + viewer_, "",
                                  {{"Authorization", "Token mtd_wrong"}});
  EXPECT_EQ(header_wins.status, 401);
}

TEST_F(InfluxClients, AWrongSchemeIsToldWhichSchemesAreAccepted) {
  const std::string counter = "metricsd_auth_denied_total{reason=\"scheme\"}";
  double before = scrape(port(), counter);
  auto r =
      http_request(port(), "GET", "/api/v1/nodes", "", {{"Authorization", "Digest " + viewer_}});
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  std::string msg = error_message(r);
  for (const char* scheme : {"Bearer <token>", "Token <token>", "Basic", "p=<token>"})
    EXPECT_NE(msg.find(scheme), std::string::npos) << scheme << " in: " << msg;
  EXPECT_EQ(scrape(port(), counter), before + 1);
  auto none = http_request(port(), "GET", "/api/v1/nodes", "", {{"Authorization", ""}});
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(error_message(none).find("Token <token>"), std::string::npos) << none.body;
}

TEST_F(InfluxClients, TheTokenInTheQueryStringIsNeverLogged) {
  ASSERT_EQ(
      http_request(port(), "GET", "/api/v1/nodes?u=x&p=" + viewer_, "", {{"Authorization", ""}})
          .status,
      200);
  ASSERT_EQ(http_request(port(), "POST", "/write?db=x&u=x&p=" + agent_, "m,host=nolog v=1",
                         {{"Authorization", ""}})
                .status,
            204);
  EXPECT_EQ(http_request(port(), "GET", "/api/v1/nodes?p=mtd_guess_that_is_logged_nowhere", "",
                         {{"Authorization", ""}})
                .status,
            401);
  // The access lines of the three requests are written as they are answered.
  ASSERT_TRUE(eventually([&] { return daemon_->log().find("/write") != std::string::npos; }));
  std::string log = daemon_->log();
  EXPECT_EQ(log.find(viewer_), std::string::npos);
  EXPECT_EQ(log.find(agent_), std::string::npos);
  EXPECT_EQ(log.find("mtd_guess_that_is_logged_nowhere"), std::string::npos);
}

// ---- the errors of the same issue ----------------------------------------------------------

TEST_F(InfluxClients, AnAgentTokenIsCalledAnAgentToken) {
  auto r =
      http_request(port(), "GET", "/api/v1/nodes", "", {{"Authorization", "Bearer " + agent_}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(error_message(r).rfind("an agent token may not use GET /api/v1/nodes", 0), 0u)
      << r.body;
  auto v = http_request(port(), "POST", "/api/v1/write", "m,host=x v=1",
                        {{"Authorization", "Bearer " + viewer_}});
  EXPECT_EQ(error_message(v).rfind("a viewer token", 0), 0u) << v.body;
}

TEST_F(InfluxClients, ABadPrecisionListsWhatIsAcceptedAndIsCountedOnce) {
  const std::string counter = "metricsd_ingest_rejected_requests_total{reason=\"invalid\"}";
  double before = scrape(port(), counter);
  for (const char* target : {"/write?precision=x", "/api/v2/write?bucket=b&precision=seconds"}) {
    auto r = http_request(port(), "POST", target, "m,host=prec v=1",
                          {{"Authorization", "Token " + agent_}});
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(detail_places(r), std::vector<std::string>{"precision"});
    std::string msg = error_message(r);
    for (const char* p : {"ns (or n)", "us (or u", "ms", "s", "m", "h"})
      EXPECT_NE(msg.find(p), std::string::npos) << p << " in: " << msg;
  }
  EXPECT_EQ(scrape(port(), counter), before + 2);
  // n and u, as listed, are accepted.
  for (const char* p : {"n", "u"})
    EXPECT_EQ(http_request(port(), "POST", fmt::format("/write?precision={}", p),
                           fmt::format("m,host=prec-{} v=1", p))
                  .status,
              204)
        << p;
}

TEST_F(InfluxClients, RoutesListTheWebSocketAndTheInfluxRoutes) {
  auto r = http_request(port(), "GET", "/api/v1/routes");
  ASSERT_EQ(r.status, 200);
  std::vector<std::string> listed;
  const json doc = json::parse(r.body);
  for (const auto& route : doc["routes"])
    listed.push_back(route["method"].get<std::string>() + " " + route["path"].get<std::string>() +
                     " " + route["access"].get<std::string>());
  for (const char* want :
       {"GET /ws/metrics viewer", "GET /ping public", "GET /health public",
        "GET /query agent_or_viewer", "POST /query agent_or_viewer", "POST /api/v2/write agent"})
    EXPECT_NE(std::find(listed.begin(), listed.end(), want), listed.end()) << want;
}

}  // namespace
}  // namespace metricsd::test
