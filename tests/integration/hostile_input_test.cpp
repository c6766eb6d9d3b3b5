// Hostile input against the real daemon: malformed JSON, wrong types, numbers at and past
// the edges of double and int64, deep nesting, invalid UTF-8 and NUL characters,
// SQL-looking and path-traversal strings in every field that reaches SQL, and the limits
// on the request head. Each malformed request must get a 4xx JSON error naming what is
// wrong; each accepted one must be stored byte for byte; the tables must still be there
// afterwards (read through libpqxx from the daemon's embedded PostgreSQL).
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/route_table.hpp"
#include "ingest_support.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;

const std::vector<std::string> kSqlish = {
    "'; DROP TABLE nodes; --",    "$1", "\\'", ") OR 1=1 --", "' OR '1'='1",
    "\"; DELETE FROM series; --",
};
const std::vector<std::string> kTraversal = {"../../etc/passwd", "..\\..\\windows\\win.ini",
                                             "/etc/passwd", "%2e%2e%2f"};

// Every byte outside RFC 3986's unreserved set percent-encoded.
std::string pct(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string deep(const std::string& open, size_t n) {
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i)
    out += open;
  for (size_t i = 0; i < n; ++i)
    out += open == "[" ? "]" : "}";
  return out;
}

class HostileInput : public IngestBase {
 protected:
  static void SetUpTestSuite() { start({"--http-max-body-bytes", "1MiB"}); }
  static void TearDownTestSuite() { stop(); }

  HttpResult get(const std::string& target) { return http_request(port(), "GET", target); }

  // A 4xx JSON error whose details (field or line) name `place`, or whose message
  // does when `place` is empty-detailed (e.g. 415).
  void expect_refused(const HttpResult& r, int status, const std::string& code,
                      const std::string& place, const std::string& what) {
    SCOPED_TRACE(what);
    expect_error(r, status, code);
    if (place.empty()) return;
    auto places = detail_places(r);
    bool named = std::find(places.begin(), places.end(), place) != places.end();
    for (const auto& p : places)
      named = named || p.rfind(place + ".", 0) == 0 || p.rfind(place + "[", 0) == 0;
    EXPECT_TRUE(named) << "expected the error to name " << place << ": " << r.body;
  }

  // Never a 5xx: what an endpoint must do with any query string, valid or not.
  void expect_answered(const HttpResult& r, const std::string& what) {
    EXPECT_GT(r.status, 0) << what;
    EXPECT_LT(r.status, 500) << what << " -> " << r.body;
    if (r.status >= 400) expect_error(r, r.status, json::parse(r.body)["error"].value("code", ""));
  }

  // Every table still there, the API still answering from it, the daemon alive.
  void expect_schema_intact() {
    for (const char* t : {"nodes", "series", "inbox", "events", "commands", "tokens", "audit_log",
                          "schema_migrations", "runtime_settings"})
      EXPECT_NO_THROW(db().count(std::string("SELECT count(*) FROM ") + t)) << t;
    EXPECT_GE(db().count("SELECT count(*) FROM tokens"), 1);
    auto nodes = get("/api/v1/nodes");
    ASSERT_EQ(nodes.status, 200) << nodes.body;
    EXPECT_EQ(static_cast<int64_t>(json::parse(nodes.body)["nodes"].size()),
              db().count("SELECT count(*) FROM nodes"));
    EXPECT_EQ(get("/healthz").status, 200);
  }

  std::string text_of(const std::string& sql, const std::string& param) {
    auto r = db().query(sql, param);
    if (r.empty() || r[0][0].is_null()) return "<none>";
    return r[0][0].as<std::string>();
  }

  HttpResult heartbeat(const std::string& node, const json& body) {
    return post("/api/v1/nodes/" + node + "/heartbeat", body.dump());
  }
};

TEST_F(HostileInput, RoutesListedAreTheRouteTable) {
  auto r = get("/api/v1/routes");
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> served, fuzzed;
  json listed = json::parse(r.body);  // named: GCC 12 frees a temporary's member in range-for
  for (const auto& route : listed["routes"])
    served.push_back(route["method"].get<std::string>() + " " + route["path"].get<std::string>());
  for (const auto& route : api::route_table())
    fuzzed.push_back(std::string(route.method) + " " + std::string(route.pattern));
  EXPECT_EQ(sorted(served), sorted(fuzzed)) << "the daemon serves api/route_table.hpp";
}

TEST_F(HostileInput, MalformedJsonIsRefusedNamingTheBody) {
  ASSERT_EQ(heartbeat("h-json", json::object()).status, 200);
  const std::vector<std::string> targets = {"/api/v1/metrics",
                                            "/api/v1/nodes/h-json/heartbeat",
                                            "/api/v1/tokens",
                                            "/api/v1/nodes/h-json/commands",
                                            "/api/v1/nodes/h-json/commands/1/ack",
                                            "/api/v1/fleet/commands",
                                            "/api/v1/config/update"};
  const std::vector<std::string> bodies = {
      "{",
      "{\"a\":",
      "[1,2",
      "{'a':1}",
      std::string("{\"a\":\0}", 7),
      "\xff\xfe{}",
      "{\"type\":\"\xC3\x28\"}",      // invalid UTF-8 inside a string
      "{\"type\":\"\xED\xA0\x80\"}",  // a UTF-16 surrogate in UTF-8
      "{\"a\":1e309}",
      "{\"a\":-1e309}",
      "{\"a\":NaN}",
      "{\"a\":1}{\"b\":2}",
  };
  int64_t nodes = db().count("SELECT count(*) FROM nodes");
  int64_t tokens = db().count("SELECT count(*) FROM tokens");
  int64_t commands = db().count("SELECT count(*) FROM commands");
  for (const auto& t : targets)
    for (size_t i = 0; i < bodies.size(); ++i) {
      auto r = post(t, bodies[i]);
      expect_refused(r, 400, "invalid_argument", "body", t + " <- body #" + std::to_string(i));
      EXPECT_FALSE(error_message(r).empty());
    }
  auto overflow = post("/api/v1/metrics", R"({"node":"h-json","metrics":{"m":1e309}})");
  EXPECT_NE(overflow.body.find("1e309"), std::string::npos) << overflow.body;
  EXPECT_EQ(db().count("SELECT count(*) FROM nodes"), nodes);
  EXPECT_EQ(db().count("SELECT count(*) FROM tokens"), tokens);
  EXPECT_EQ(db().count("SELECT count(*) FROM commands"), commands);
  EXPECT_EQ(db().stored("h-json"), 0);
  expect_schema_intact();
}

TEST_F(HostileInput, WrongTypesAreRefusedNamingTheField) {
  ASSERT_EQ(heartbeat("h-types", json::object()).status, 200);
  struct Case {
    std::string target, body, field;
  };
  const std::string n = R"("node":"h-types")";
  const Case cases[] = {
      {"/api/v1/metrics", R"({"node":5,"metrics":{"m":1}})", "node"},
      {"/api/v1/metrics", R"({"node":"h-types","ts":true,"metrics":{"m":1}})", "ts"},
      {"/api/v1/metrics", "{" + n + R"(,"samples":{}})", "samples"},
      {"/api/v1/metrics", "{" + n + R"(,"samples":[{"metric":"m","value":"1"}]})",
       "samples[0].value"},
      {"/api/v1/metrics", "{" + n + R"(,"samples":[{"metric":7,"value":1}]})", "samples[0].metric"},
      {"/api/v1/metrics", "{" + n + R"(,"samples":[{"metric":"m","value":1,"labels":{"a":1}}]})",
       "samples[0].labels"},
      {"/api/v1/metrics", "{" + n + R"(,"metrics":{"m":[1]}})", "metrics"},
      {"/api/v1/metrics", "{" + n + R"(,"metrics":{"m":null}})", "metrics"},
      {"/api/v1/nodes/h-types/heartbeat", R"({"type":5})", "type"},
      {"/api/v1/nodes/h-types/heartbeat", R"({"hostname":[]})", "hostname"},
      {"/api/v1/nodes/h-types/heartbeat", R"({"labels":"x"})", "labels"},
      {"/api/v1/nodes/h-types/heartbeat", R"({"labels":{"a":1}})", "labels.a"},
      {"/api/v1/nodes/h-types/heartbeat", R"({"interval_s":"5"})", "interval_s"},
      {"/api/v1/nodes/h-types/heartbeat", R"({"state":[]})", "state"},
      {"/api/v1/nodes/h-types/heartbeat", R"({"info":1})", "info"},
      {"/api/v1/nodes/h-types/heartbeat", R"({"metrics":[]})", "metrics"},
      {"/api/v1/tokens", R"({"name":1,"role":"viewer"})", "name"},
      {"/api/v1/tokens", R"({"name":"x","role":[]})", "role"},
      {"/api/v1/tokens", R"({"name":"x","role":"agent","node":{}})", "node"},
      {"/api/v1/nodes/h-types/commands", R"({"type":1})", "type"},
      {"/api/v1/nodes/h-types/commands", R"({"type":"pause","args":[]})", "args"},
      {"/api/v1/nodes/h-types/commands", R"({"type":"pause; rm -rf /"})", "type"},
      {"/api/v1/fleet/commands", R"({"type":"pause","args":"x"})", "args"},
      {"/api/v1/nodes/h-types/commands/1/ack", R"({"status":1})", "status"},
      {"/api/v1/nodes/h-types/commands/1/ack", R"({"status":"done","message":{}})", "message"},
  };
  for (const auto& c : cases)
    expect_refused(post(c.target, c.body), 400, "invalid_argument", c.field,
                   c.target + " " + c.body);
  EXPECT_EQ(db().stored("h-types"), 0);
  EXPECT_EQ(db().count("SELECT count(*) FROM commands WHERE node_id = $1", "h-types"), 0);
}

TEST_F(HostileInput, NumbersAtTheEdgesAreStoredExactlyOrRefused) {
  const std::string node = "h-numbers";
  // Accepted: finite doubles, stored as the same double.
  const std::vector<std::pair<std::string, double>> kept = {
      {"18446744073709551616", 18446744073709551616.0},  // 2^64, beyond uint64: a double
      {"18446744073709551615", 18446744073709551615.0},
      {"-9223372036854775809", -9223372036854775809.0},
      {"-0", 0.0},
      {"4.9e-324", 4.9e-324},  // the smallest denormal
      {"2.2250738585072009e-308", 2.2250738585072009e-308},
      {"1.7976931348623157e308", 1.7976931348623157e308},
  };
  for (size_t i = 0; i < kept.size(); ++i) {
    std::string metric = "edge.v" + std::to_string(i);
    auto r = post("/api/v1/metrics", R"({"node":")" + node + R"(","metrics":{")" + metric +
                                         R"(":)" + kept[i].first + "}}");
    ASSERT_EQ(r.status, 200) << kept[i].first << " -> " << r.body;
    auto v = db().query("SELECT value FROM metrics WHERE metric = $1", metric);
    ASSERT_EQ(v.size(), 1u) << kept[i].first;
    EXPECT_EQ(v[0][0].as<double>(), kept[i].second) << kept[i].first;
  }
  // Refused, naming what is wrong: past double's range, or a time out of range.
  for (const std::string bad : {"1e309", "-1e309", "1e400"})
    expect_refused(
        post("/api/v1/metrics", R"({"node":")" + node + R"(","metrics":{"x":)" + bad + "}}"), 400,
        "invalid_argument", "body", bad);
  for (const std::string ts : {"18446744073709551616", "-0", "9.2e15", "4.9e-324", "-1e18"})
    expect_refused(post("/api/v1/metrics",
                        R"({"node":")" + node + R"(","ts":)" + ts + R"(,"metrics":{"x":1}})"),
                   400, "invalid_argument", "ts", "ts " + ts);
  for (const std::string iv : {"18446744073709551616", "-0", "0", "86401", "-1e-300"})
    expect_refused(post("/api/v1/nodes/" + node + "/heartbeat", R"({"interval_s":)" + iv + "}"),
                   400, "invalid_argument", "interval_s", iv);
  // A denormal interval is a positive number of seconds: accepted and kept as sent.
  ASSERT_EQ(post("/api/v1/nodes/" + node + "/heartbeat", R"({"interval_s":4.9e-324})").status, 200);
  EXPECT_EQ(db().query("SELECT interval_s FROM nodes WHERE node_id = $1", node)[0][0].as<double>(),
            4.9e-324);
  for (const std::string q : {"limit=18446744073709551616", "limit=1e3", "limit=-0", "limit=0x10",
                              "cursor=-1", "cursor=9223372036854775808", "limit=%2B1%201"})
    expect_refused(get("/api/v1/events?" + q), 400, "invalid_argument", q.substr(0, q.find('=')),
                   q);
  EXPECT_EQ(db().count("SELECT count(*) FROM metrics WHERE metric = 'x'"), 0);
}

TEST_F(HostileInput, DeepNestingIsRefusedAndTheDaemonSurvives) {
  ASSERT_EQ(heartbeat("h-deep", json::object()).status, 200);
  const std::string arrays = deep("[", 100000);
  struct Case {
    std::string target, body;
  };
  const Case cases[] = {
      {"/api/v1/metrics", arrays},
      {"/api/v1/metrics",
       R"({"node":"h-deep","samples":[{"metric":"m","value":1,"labels":{"a":)" + arrays + "}}]}"},
      {"/api/v1/nodes/h-deep/heartbeat", R"({"state":{"a":)" + arrays + "}}"},
      {"/api/v1/nodes/h-deep/heartbeat", R"({"info":)" + deep("{\"a\":", 50000) + "}"},
      {"/api/v1/nodes/h-deep/heartbeat", R"({"labels":{"a":)" + arrays + "}}"},
      {"/api/v1/nodes/h-deep/commands", R"({"type":"pause","args":{"a":)" + arrays + "}}"},
      {"/api/v1/fleet/commands", R"({"type":"pause","args":{"a":)" + arrays + "}}"},
      {"/api/v1/nodes/h-deep/commands/1/ack", R"({"status":"done","message":)" + arrays + "}"},
      {"/api/v1/tokens", R"({"name":)" + arrays + R"(,"role":"viewer"})"},
  };
  for (const auto& c : cases) {
    auto r = post(c.target, c.body);
    expect_refused(r, 400, "invalid_argument", "", c.target);
    ASSERT_EQ(get("/healthz").status, 200) << "the daemon died on " << c.target << "\n"
                                           << daemon_->log();
  }
  // 64 levels are fine, and stored as sent.
  json nested = "leaf";
  for (int i = 0; i < 62; ++i)
    nested = json::array({nested});
  ASSERT_EQ(heartbeat("h-deep", {{"state", {{"a", nested}}}}).status, 200);
  EXPECT_EQ(json::parse(text_of("SELECT state::text FROM nodes WHERE node_id = $1", "h-deep")),
            json({{"a", nested}}));
  EXPECT_EQ(db().count("SELECT count(*) FROM commands WHERE node_id = $1", "h-deep"), 0);
  expect_schema_intact();
}

TEST_F(HostileInput, NulAndInvalidUtf8AreRefusedNamingTheField) {
  ASSERT_EQ(heartbeat("h-nul", json::object()).status, 200);
  struct Case {
    std::string target, body, place;
  };
  const Case cases[] = {
      {"/api/v1/metrics",
       R"({"node":"h-nul","samples":[{"metric":"m","value":1,"labels":{"a":"x\u0000y"}}]})",
       "samples[0].labels"},
      {"/api/v1/nodes/h-nul/heartbeat", R"({"hostname":"a\u0000b"})", "hostname"},
      {"/api/v1/nodes/h-nul/heartbeat", R"({"type":"\u0000"})", "type"},
      {"/api/v1/nodes/h-nul/heartbeat", R"({"labels":{"a":"\u0000"}})", "labels.a"},
      {"/api/v1/nodes/h-nul/heartbeat", R"({"state":{"a":["ok","\u0000"]}})", "state.a[1]"},
      {"/api/v1/nodes/h-nul/heartbeat", R"({"info":{"k\u0000":1}})", "info"},
      {"/api/v1/nodes/h-nul/commands", R"({"type":"pause","args":{"a":"\u0000"}})", "args.a"},
      {"/api/v1/nodes/h-nul/commands/1/ack", R"({"status":"done","message":"a\u0000"})", "message"},
      {"/api/v1/tokens", R"({"name":"a\u0000b","role":"viewer"})", "name"},
  };
  for (const auto& c : cases)
    expect_refused(post(c.target, c.body), 400, "invalid_argument", c.place, c.body);
  // Line protocol: a raw NUL or invalid UTF-8 in a tag value, a bad node tag.
  for (const std::string& lp :
       {std::string("m,node=h-nul,a=x\0y v=1", 22), std::string("m,node=h-nul,a=\xff v=1"),
        std::string("m,node=h\xff v=1"), std::string("m,node=h\0n v=1", 14)}) {
    auto r = post_lp("/api/v1/write", lp);
    expect_refused(r, 400, "invalid_argument", "line 1", "lp");
  }
  // Filters that reach SQL: 400, never a 500 from PostgreSQL's encoding check.
  for (const std::string q :
       {"/api/v1/events?type=%FF", "/api/v1/events?type=a%00b", "/api/v1/nodes?type=%FF",
        "/api/v1/nodes?type=%00", "/api/v1/nodes?label=a:%FF", "/api/v1/nodes?label=a:%00",
        "/api/v1/audit?action=%C3%28", "/api/v1/audit?token=x%00", "/api/v1/events?node=%FF",
        "/api/v1/nodes/%FF", "/api/v1/nodes/h%00nul"})
    expect_refused(get(q), 400, "invalid_argument", "", q);
  // Filters answered from memory: any bytes, never a 5xx.
  for (const std::string q :
       {"/api/v1/series?match=%FF%00", "/api/v1/latest?category=%FF", "/api/v1/metrics/%FF%00",
        "/api/v1/metrics/history/%FF/1h", "/api/v1/query?metric=m&label=a:%FF%00",
        "/api/v1/latest?metric=m&label=a:%00", "/api/v1/%FF", "/%00"})
    expect_answered(get(q), q);
  auto nul_node = db().query("SELECT hostname FROM nodes WHERE node_id = $1", "h-nul");
  ASSERT_EQ(nul_node.size(), 1u);
  EXPECT_EQ(nul_node[0][0].as<std::string>(), "");
  EXPECT_EQ(db().stored("h-nul"), 0);
  expect_schema_intact();
}

TEST_F(HostileInput, SqlLookingStringsAreStoredVerbatimWhereAllowed) {
  for (size_t i = 0; i < kSqlish.size(); ++i) {
    const std::string& s = kSqlish[i];
    SCOPED_TRACE(s);
    std::string node = "h-sql-" + std::to_string(i);
    // Label values (samples and heartbeat), hostname, type, state and info: free text.
    auto m = post("/api/v1/metrics",
                  json{{"node", node},
                       {"samples", {{{"metric", "sql.v"}, {"value", 1.5}, {"labels", {{"q", s}}}}}}}
                      .dump());
    ASSERT_EQ(m.status, 200) << m.body;
    EXPECT_EQ(text_of("SELECT labels->>'q' FROM series WHERE node_id = $1", node), s);
    auto hb = heartbeat(node, {{"type", s},
                               {"hostname", s},
                               {"labels", {{"q", s}}},
                               {"state", {{s, s}}},
                               {"info", {{"list", json::array({s, json{{"k", s}}})}}}});
    ASSERT_EQ(hb.status, 200) << hb.body;
    auto row = db().query(
        "SELECT type, hostname, labels->>'q', state::text, info::text FROM nodes WHERE node_id = "
        "$1",
        node);
    ASSERT_EQ(row.size(), 1u);
    EXPECT_EQ(row[0][0].as<std::string>(), s);
    EXPECT_EQ(row[0][1].as<std::string>(), s);
    EXPECT_EQ(row[0][2].as<std::string>(), s);
    EXPECT_EQ(json::parse(row[0][3].as<std::string>()), json({{s, s}}));
    EXPECT_EQ(json::parse(row[0][4].as<std::string>()),
              json({{"list", json::array({s, json{{"k", s}}})}}));
    // The API answers them as stored.
    auto one = get("/api/v1/nodes/" + node);
    ASSERT_EQ(one.status, 200) << one.body;
    json j = json::parse(one.body);
    EXPECT_EQ(j["hostname"], s);
    EXPECT_EQ(j["type"], s);
    EXPECT_EQ(j["labels"]["q"], s);
    // Filters with the same text find exactly that node.
    auto by_label = get("/api/v1/nodes?label=" + pct("q:" + s));
    ASSERT_EQ(by_label.status, 200) << by_label.body;
    json listed = json::parse(by_label.body)["nodes"];
    ASSERT_EQ(listed.size(), 1u) << by_label.body;
    EXPECT_EQ(listed[0]["node_id"], node);
    auto by_type = get("/api/v1/nodes?type=" + pct(s));
    ASSERT_EQ(by_type.status, 200);
    EXPECT_EQ(json::parse(by_type.body)["nodes"].size(), 1u);
    auto series = get("/api/v1/series?node=" + node + "&label=" + pct("q:" + s));
    ASSERT_EQ(series.status, 200);
    EXPECT_EQ(json::parse(series.body)["series"].size(), 1u) << series.body;
    // Token names, command args and ack messages: free text too.
    auto tok = post("/api/v1/tokens", json{{"name", s}, {"role", "viewer"}}.dump());
    ASSERT_EQ(tok.status, 201) << tok.body;
    EXPECT_EQ(db().count("SELECT count(*) FROM tokens WHERE name = $1", s), 1);
    auto cmd = post("/api/v1/nodes/" + node + "/commands",
                    json{{"type", "pause"}, {"args", {{"x", s}, {s, 1}}}}.dump());
    ASSERT_EQ(cmd.status, 201) << cmd.body;
    std::string id = std::to_string(json::parse(cmd.body)["id"].get<int64_t>());
    EXPECT_EQ(text_of("SELECT args->>'x' FROM commands WHERE id = $1::bigint", id), s);
    auto ack = post("/api/v1/nodes/" + node + "/commands/" + id + "/ack",
                    json{{"status", "failed"}, {"message", s}}.dump());
    ASSERT_EQ(ack.status, 200) << ack.body;
    EXPECT_EQ(text_of("SELECT message FROM commands WHERE id = $1::bigint", id), s);
    // Filters on events and the audit log: answered, never executed.
    for (const std::string& q :
         {"/api/v1/events?type=" + pct(s), "/api/v1/audit?action=" + pct(s),
          "/api/v1/audit?token=" + pct(s), "/api/v1/series?match=" + pct(s),
          "/api/v1/latest?category=" + pct(s), "/api/v1/query?metric=sql.v&label=" + pct("q:" + s)})
      EXPECT_EQ(get(q).status, 200) << q;
  }
  // Where the names are restricted, the same strings are refused, naming the field.
  for (const auto& s : kSqlish) {
    SCOPED_TRACE(s);
    expect_refused(post("/api/v1/metrics", json{{"node", s}, {"metrics", {{"m", 1}}}}.dump()), 400,
                   "invalid_argument", "node", "node");
    expect_refused(
        post("/api/v1/metrics",
             json{{"node", "h-sql-0"}, {"samples", {{{"metric", s}, {"value", 1}}}}}.dump()),
        400, "invalid_argument", "samples[0].metric", "metric");
    expect_refused(post("/api/v1/metrics",
                        json{{"node", "h-sql-0"},
                             {"samples", {{{"metric", "m"}, {"value", 1}, {"labels", {{s, "v"}}}}}}}
                            .dump()),
                   400, "invalid_argument", "samples[0].labels", "label key");
    expect_refused(heartbeat(pct(s), json::object()), 400, "invalid_argument", "node_id", "path");
    expect_refused(get("/api/v1/nodes/" + pct(s)), 400, "invalid_argument", "node_id", "get");
    expect_refused(get("/api/v1/query?metric=" + pct(s)), 400, "invalid_argument", "metric", "q");
    expect_refused(get("/api/v1/query?metric=m&node=" + pct(s)), 400, "invalid_argument", "node",
                   "q node");
    expect_refused(get("/api/v1/events?node=" + pct(s)), 400, "invalid_argument", "node", "ev");
    for (const std::string p : {"from", "to", "step", "agg", "cursor", "format", "max_points"})
      expect_refused(get("/api/v1/query?metric=sql.v&" + p + "=" + pct(s)), 400, "invalid_argument",
                     p, p);
    expect_refused(get("/api/v1/series?cursor=" + pct(s)), 400, "invalid_argument", "cursor", "c");
    expect_refused(get("/api/v1/events?from=" + pct(s)), 400, "invalid_argument", "from", "from");
    expect_refused(get("/api/v1/audit?to=" + pct(s)), 400, "invalid_argument", "to", "to");
    expect_refused(get("/api/v1/nodes/h-sql-0/commands?status=" + pct(s)), 400, "invalid_argument",
                   "status", "status");
    expect_refused(http_request(port(), "DELETE", "/api/v1/tokens/" + pct(s)), 400,
                   "invalid_argument", "id", "token id");
    expect_refused(
        post("/api/v1/nodes/h-sql-0/commands/" + pct(s) + "/ack", R"({"status":"done"})"), 400,
        "invalid_argument", "id", "ack id");
    expect_refused(post("/api/v1/tokens", json{{"name", "x"}, {"role", s}}.dump()), 400,
                   "invalid_argument", "role", "role");
    expect_refused(post_lp("/api/v1/write?precision=" + pct(s), "m,node=h-sql-0 v=1"), 400,
                   "invalid_argument", "precision", "precision");
  }
  EXPECT_EQ(db().count("SELECT count(*) FROM nodes WHERE node_id LIKE 'h-sql-%'"),
            static_cast<int64_t>(kSqlish.size()));
  expect_schema_intact();
}

TEST_F(HostileInput, PathTraversalStringsNeverLeaveTheirField) {
  for (const auto& s : kTraversal) {
    SCOPED_TRACE(s);
    for (const std::string& enc : {pct(s), s}) {
      for (const std::string& target :
           {"/api/v1/nodes/" + enc, "/api/v1/nodes/" + enc + "/commands",
            "/api/v1/metrics/history/" + enc + "/1h", "/api/v1/metrics/" + enc}) {
        auto r = get(target);
        expect_answered(r, target);
        EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
        EXPECT_EQ(r.body.find("[fonts]"), std::string::npos) << target;
      }
    }
    // Encoded slashes stay inside the path parameter: a node id with '/' is refused.
    expect_refused(heartbeat(pct(s), json::object()), 400, "invalid_argument", "node_id", "hb");
    // As free text the strings are stored as sent.
    auto m = post("/api/v1/metrics",
                  json{{"node", "h-path"},
                       {"samples", {{{"metric", "path.v"}, {"value", 2}, {"labels", {{"p", s}}}}}}}
                      .dump());
    ASSERT_EQ(m.status, 200) << m.body;
    EXPECT_EQ(db().count("SELECT count(*) FROM series WHERE labels->>'p' = $1", s), 1);
    auto tok = post("/api/v1/tokens", json{{"name", s}, {"role", "viewer"}}.dump());
    ASSERT_EQ(tok.status, 201) << tok.body;
    EXPECT_EQ(db().count("SELECT count(*) FROM tokens WHERE name = $1", s), 1);
    expect_refused(get("/api/v1/query?metric=path.v&format=" + pct(s)), 400, "invalid_argument",
                   "format", "format");
    expect_refused(post("/api/v1/metrics", json{{"node", s}, {"metrics", {{"m", 1}}}}.dump()), 400,
                   "invalid_argument", "node", "node");
  }
  // Raw dot segments are not normalised into another route.
  EXPECT_EQ(get("/api/v1/nodes/../../etc/passwd").status, 404);
  EXPECT_EQ(get("/api/v1/nodes/h-path/../../tokens").status, 404);
  expect_schema_intact();
}

TEST_F(HostileInput, CsvQuotesWhatWouldBreakARow) {
  const std::string tricky = "a,\"b\"\n=cmd|' /C calc'!A0\r\n";
  auto m =
      post("/api/v1/metrics",
           json{{"node", "h-csv"},
                {"samples", {{{"metric", "csv.v"}, {"value", 3}, {"labels", {{"t", tricky}}}}}}}
               .dump());
  ASSERT_EQ(m.status, 200) << m.body;
  auto r = get("/api/v1/query?metric=csv.v&node=h-csv&from=-1h&step=1m&format=csv");
  ASSERT_EQ(r.status, 200) << r.body;
  // Header plus one row: the label JSON escapes the newlines, the quotes are doubled.
  std::string body = r.body;
  ASSERT_EQ(std::count(body.begin(), body.end(), '\n'), 2) << body;
  std::string row = body.substr(body.find('\n') + 1);
  EXPECT_NE(row.find(",h-csv,\"{\"\"t\"\":"), std::string::npos) << row;
  // Every field starts with a digit, a letter or a quote: nothing a spreadsheet runs.
  for (char c : {'=', '+', '-', '@'})
    EXPECT_EQ(row.find(std::string(",") + c), std::string::npos) << row;
  std::string labels_field = row.substr(row.find(",\"") + 2);
  labels_field = labels_field.substr(0, labels_field.rfind("\","));
  std::string unquoted;
  for (size_t i = 0; i < labels_field.size(); ++i) {
    unquoted += labels_field[i];
    if (labels_field[i] == '"') ++i;
  }
  EXPECT_EQ(json::parse(unquoted)["t"], tricky);
}

TEST_F(HostileInput, ValidButWeirdTextIsStoredByteForByte) {
  const std::vector<std::string> values = {
      "'; DROP TABLE nodes; --",
      "\xF0\x9F\x94\xA5 \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D e\xCC\x81",  // emoji, Hebrew, combining
      "\xEF\xBB\xBF bom",                                             // a byte-order mark
      "tab\there \\u0000 literally",
      std::string(1024, 'x'),
      std::string(256, '\x7F'),
      "\xF4\x8F\xBF\xBF",  // U+10FFFF
  };
  for (size_t i = 0; i < values.size(); ++i) {
    SCOPED_TRACE(i);
    std::string node = "h-bytes-" + std::to_string(i);
    auto m = post(
        "/api/v1/metrics",
        json{{"node", node},
             {"samples", {{{"metric", "bytes.v"}, {"value", 1}, {"labels", {{"v", values[i]}}}}}}}
            .dump());
    ASSERT_EQ(m.status, 200) << m.body;
    EXPECT_EQ(text_of("SELECT labels->>'v' FROM series WHERE node_id = $1", node), values[i]);
    auto s = get("/api/v1/series?node=" + node);
    ASSERT_EQ(s.status, 200);
    EXPECT_EQ(json::parse(s.body)["series"][0]["labels"]["v"], values[i]);
    if (values[i].size() <= 256) {
      ASSERT_EQ(heartbeat(node, {{"hostname", values[i]}}).status, 200);
      EXPECT_EQ(text_of("SELECT hostname FROM nodes WHERE node_id = $1", node), values[i]);
    }
  }
  // One byte over the label value limit is refused.
  expect_refused(post("/api/v1/metrics", json{{"node", "h-bytes-0"},
                                              {"samples",
                                               {{{"metric", "bytes.v"},
                                                 {"value", 1},
                                                 {"labels", {{"v", std::string(1025, 'x')}}}}}}}
                                             .dump()),
                 400, "invalid_argument", "samples[0].labels", "1025 bytes");
}

TEST_F(HostileInput, RequestHeadLimitsAndMediaTypes) {
  // A target over http.max_url_bytes (8 KiB): 414.
  auto long_target = get("/api/v1/series?match=" + std::string(9000, 'a'));
  expect_error(long_target, 414, "uri_too_long");
  // More than http.max_header_count (100) header fields: 431.
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 101; ++i)
    many.emplace_back("X-H" + std::to_string(i), "v");
  expect_error(http_request(port(), "GET", "/api/v1/nodes", "", many), 431, "headers_too_large");
  // A huge array past http.max_body_bytes (1 MiB here): 413, nothing stored.
  std::string huge = R"({"node":"h-huge","samples":[)";
  while (huge.size() < (1u << 20) + 100)
    huge += R"({"metric":"m","value":1},)";
  huge += R"({"metric":"m","value":1}]})";
  expect_error(post("/api/v1/metrics", huge), 413, "payload_too_large");
  // A large array within the limit but of junk: 400 with at most 100 details.
  std::string junk = R"({"node":"h-huge","samples":[)";
  while (junk.size() < 900'000)
    junk += "0,";
  junk += "0]}";
  auto j = post("/api/v1/metrics", junk);
  expect_error(j, 400, "invalid_argument");
  EXPECT_LE(detail_places(j).size(), 100u);
  EXPECT_EQ(db().stored("h-huge"), 0);
  // Content-Type mismatches where the endpoint checks it: 415.
  ASSERT_EQ(heartbeat("h-media", json::object()).status, 200);
  struct Case {
    std::string target, type, body;
  };
  const Case cases[] = {
      {"/api/v1/metrics", "text/plain", R"({"node":"h-media","metrics":{"m":1}})"},
      {"/api/v1/metrics", "application/x-www-form-urlencoded", "node=h-media"},
      {"/api/v1/write", "application/json", "m,node=h-media v=1"},
      {"/api/v1/write", "multipart/form-data; boundary=x", "m,node=h-media v=1"},
      {"/api/v1/nodes/h-media/heartbeat", "text/plain", "{}"},
      {"/api/v1/tokens", "text/plain", R"({"name":"x","role":"viewer"})"},
      {"/api/v1/nodes/h-media/commands", "text/xml", R"({"type":"pause"})"},
      {"/api/v1/fleet/commands", "text/plain", R"({"type":"pause"})"},
      {"/api/v1/nodes/h-media/commands/1/ack", "text/plain", R"({"status":"done"})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.target + " " + c.type);
    expect_error(post(c.target, c.body, {{"Content-Type", c.type}}), 415, "unsupported_media_type");
  }
  EXPECT_EQ(db().stored("h-media"), 0);
  EXPECT_EQ(db().count("SELECT count(*) FROM commands WHERE node_id = $1", "h-media"), 0);
  // Unknown Content-Encoding: 415; a gzip body that is not gzip: 400 naming the body.
  expect_error(post("/api/v1/metrics", R"({"node":"h-media","metrics":{"m":1}})",
                    {{"Content-Type", "application/json"}, {"Content-Encoding", "br"}}),
               415, "unsupported_media_type");
  expect_refused(post("/api/v1/metrics", "not gzip",
                      {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}}),
                 400, "invalid_argument", "body", "gzip");
  expect_schema_intact();
}

TEST_F(HostileInput, ExtremeQueryRangesAndStepsAreAnsweredWithoutOverflow) {
  ASSERT_EQ(post("/api/v1/metrics", R"({"node":"h-range","metrics":{"range.v":1}})").status, 200);
  // Regressions: times past year 9999 were accepted (and to - from could overflow); a step
  // of INT64_MAX ms overflowed the point count.
  for (const std::string q : {"from=579511440020.25", "to=9000000000000000",
                              "from=-9223372036854775807ms", "from=9999-12-31T23:59:59.999-00:01"})
    expect_refused(get("/api/v1/query?metric=range.v&" + q), 400, "invalid_argument",
                   q.substr(0, q.find('=')), q);
  for (const std::string q :
       {"from=0000-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z&max_points=1",
        "from=-62167219200&to=253402300799.999&step=9223372036854775807ms",
        "from=-1h&step=9223372036854775807ms", "from=-1h&step=1s&agg=count"}) {
    auto r = get("/api/v1/query?metric=range.v&node=h-range&" + q);
    EXPECT_EQ(r.status, 200) << q << " -> " << r.body;
  }
  expect_refused(get("/api/v1/query?metric=range.v&from=0000-01-01T00:00:00Z&step=1s"), 400,
                 "invalid_argument", "step", "too many points");
  for (const std::string q : {"from=9999-12-31T23:59:59Z", "to=0000-01-01T00:00:00Z"}) {
    auto e = get("/api/v1/events?" + q);
    EXPECT_EQ(e.status, 200) << q << " -> " << e.body;
    auto a = get("/api/v1/audit?" + q);
    EXPECT_EQ(a.status, 200) << q << " -> " << a.body;
  }
}

}  // namespace
}  // namespace metricsd::test
