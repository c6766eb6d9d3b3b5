// POST /api/v1/write and /write end to end: line protocol (plain and gzip), precisions,
// how node, tags and fields map to samples, bad lines and Telegraf's default output,
// against a real daemon with its own embedded PostgreSQL. What was stored is read back
// from that PostgreSQL, so every test asserts the exact rows, not only the HTTP answer.
// Each test writes to nodes of its own. Times are relative to now: the store refuses
// samples older than the raw retention (7 d) or more than ingest.max_future_s (600 s) ahead.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ingest_support.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;

class IngestLineProtocol : public IngestBase {
 protected:
  static void SetUpTestSuite() { start({}); }
  static void TearDownTestSuite() { stop(); }
};

TEST_F(IngestLineProtocol, ApiExampleLineBecomesTwoSamples) {
  int64_t ns = (now_s_ - 600) * 1'000'000'000;
  auto r =
      post_lp("/api/v1/write", fmt::format("gpu,node=gpu-07,gpu=0 temp_c=71.5,util=93i {}", ns));
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(r.body.empty());
  int64_t ms = (now_s_ - 600) * 1000;
  EXPECT_EQ(db().samples("gpu-07"), sorted({row("gpu.temp_c", "gpu-07", {{"gpu", "0"}}, 71.5, ms),
                                            row("gpu.util", "gpu-07", {{"gpu", "0"}}, 93, ms)}));
}

TEST_F(IngestLineProtocol, WriteAliasTakesTheSameBody) {
  // The default precision is ns: seconds read as nanoseconds are in 1970.
  auto r = post_lp("/write", fmt::format("gpu,node=alias-07,gpu=1 temp_c=60 {}", now_s_));
  EXPECT_EQ(r.status, 400) << r.body;
  r = post_lp("/write?precision=s", fmt::format("gpu,node=alias-07,gpu=1 temp_c=60 {}", now_s_));
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(
      db().samples("alias-07"),
      std::vector<std::string>{row("gpu.temp_c", "alias-07", {{"gpu", "1"}}, 60, now_s_ * 1000)});
}

TEST_F(IngestLineProtocol, PrecisionScalesTimestamps) {
  int64_t ms = (now_s_ - 100) * 1000 + 123;
  struct Case {
    const char* precision;
    int64_t ts;
    int64_t stored_ms;
  };
  std::vector<Case> cases = {{"s", now_s_ - 100, (now_s_ - 100) * 1000},
                             {"ms", ms, ms},
                             {"us", ms * 1000 + 999, ms},
                             {"ns", ms * 1'000'000 + 999'999, ms},
                             {nullptr, ms * 1'000'000 + 1, ms}};
  std::vector<std::string> expected;
  for (const auto& c : cases) {
    std::string m = c.precision ? c.precision : "default";
    std::string target = c.precision ? std::string("/api/v1/write?precision=") + c.precision
                                     : std::string("/api/v1/write");
    auto r = post_lp(target, fmt::format("p,node=prec-1 {}=1 {}", m, c.ts));
    EXPECT_EQ(r.status, 204) << m << " " << r.body;
    expected.push_back(row("p." + m, "prec-1", json::object(), 1, c.stored_ms));
  }
  EXPECT_EQ(db().samples("prec-1"), sorted(expected));
}

TEST_F(IngestLineProtocol, MissingTimestampMeansServerTime) {
  int64_t before = wall_ms();
  auto r = post_lp("/api/v1/write", "cpu,node=nots-1 idle=99.5\ncpu,node=nots-1 user=0.5\n");
  int64_t after = wall_ms();
  ASSERT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(db().samples("nots-1", false),
            sorted({row("cpu.idle", "nots-1", {}, 99.5), row("cpu.user", "nots-1", {}, 0.5)}));
  for (int64_t t : db().times_ms("nots-1")) {
    EXPECT_GE(t, before - 5);
    EXPECT_LE(t, after + 5);
  }
}

TEST_F(IngestLineProtocol, HostTagNamesTheNodeWhenNodeTagIsAbsent) {
  auto r = post_lp("/api/v1/write?precision=s",
                   fmt::format("cpu,cpu=cpu0,host=web-1 usage_idle=98.5 {0}\n"
                               "cpu,host=web-1,node=web-node usage_idle=97 {0}\n",
                               now_s_));
  ASSERT_EQ(r.status, 204) << r.body;
  int64_t t = now_s_ * 1000;
  EXPECT_EQ(db().samples("web-1"),
            std::vector<std::string>{row("cpu.usage_idle", "web-1", {{"cpu", "cpu0"}}, 98.5, t)});
  // With both, `node` names the node and `host` stays an ordinary label.
  EXPECT_EQ(db().samples("web-node"), std::vector<std::string>{row("cpu.usage_idle", "web-node",
                                                                   {{"host", "web-1"}}, 97, t)});
}

TEST_F(IngestLineProtocol, NodeQueryParameterIsTheDefault) {
  auto r = post_lp("/api/v1/write?precision=s&node=qnode-1",
                   fmt::format("mem used=5i {0}\nmem,node=qnode-2 used=6i {0}\n", now_s_));
  ASSERT_EQ(r.status, 204) << r.body;
  int64_t t = now_s_ * 1000;
  EXPECT_EQ(db().samples("qnode-1"),
            std::vector<std::string>{row("mem.used", "qnode-1", json::object(), 5, t)});
  EXPECT_EQ(db().samples("qnode-2"),
            std::vector<std::string>{row("mem.used", "qnode-2", json::object(), 6, t)});

  auto none = post_lp("/api/v1/write", "mem used=5i\n");
  expect_error(none, 400, "invalid_argument");
  EXPECT_EQ(detail_places(none), std::vector<std::string>{"line 1"});
  auto bad = post_lp("/api/v1/write?node=-x", "mem used=5i\n");
  expect_error(bad, 400, "invalid_argument");
  EXPECT_EQ(detail_places(bad), std::vector<std::string>{"node"});
}

TEST_F(IngestLineProtocol, StringFieldsAreSkippedAndCounted) {
  const std::string skipped = "metricsd_ingest_string_fields_skipped_total";
  double before = scrape(port(), skipped);
  auto r =
      post_lp("/api/v1/write?precision=s",
              fmt::format("svc,node=str-1 state=\"running\",pid=42i,note=\"a \\\"b\\\" c\" {0}\n"
                          "svc,node=str-1 only=\"text\" {0}\n",
                          now_s_));
  ASSERT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(db().samples("str-1"),
            std::vector<std::string>{row("svc.pid", "str-1", json::object(), 42, now_s_ * 1000)});
  EXPECT_EQ(scrape(port(), skipped), before + 3);
}

TEST_F(IngestLineProtocol, BooleansAreStoredAsOneAndZero) {
  auto r =
      post_lp("/api/v1/write?precision=ms",
              fmt::format("flags,node=bool-1 a=true,b=f,c=TRUE,d=False,e=t {}", now_s_ * 1000));
  ASSERT_EQ(r.status, 204) << r.body;
  int64_t t = now_s_ * 1000;
  EXPECT_EQ(db().samples("bool-1"),
            sorted({row("flags.a", "bool-1", {}, 1, t), row("flags.b", "bool-1", {}, 0, t),
                    row("flags.c", "bool-1", {}, 1, t), row("flags.d", "bool-1", {}, 0, t),
                    row("flags.e", "bool-1", {}, 1, t)}));
}

TEST_F(IngestLineProtocol, ABadLineFailsTheWholeRequestNamingIt) {
  std::string body = fmt::format(
      "# a comment\n"
      "cpu,node=badline-1 idle=1 {0}\n"
      "cpu,node=badline-1 idle=oops {0}\n"
      "\n"
      "cpu,node=badline-1 idle=3 {0}\n"
      "cpu,node=badline-1 idle=4 {0} extra\n",
      now_s_);
  auto r = post_lp("/api/v1/write?precision=s", body);
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r), (std::vector<std::string>{"line 3", "line 6"}));
  EXPECT_NE(error_message(r).find("nothing stored"), std::string::npos);
  EXPECT_EQ(db().stored("badline-1"), 0);
  EXPECT_EQ(db().series("badline-1"), 0);

  // A time outside the window is named by line too.
  r = post_lp("/api/v1/write?precision=s",
              fmt::format("cpu,node=badline-1 idle=1 {}\ncpu,node=badline-1 idle=1 {}\n",
                          now_s_ + 700, now_s_ - 8 * 86400));
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r), (std::vector<std::string>{"line 1", "line 2"}));
  EXPECT_EQ(db().stored("badline-1"), 0);
}

TEST_F(IngestLineProtocol, GzipBodyIsInflated) {
  std::string body;
  for (int i = 0; i < 50; ++i)
    body += fmt::format("gz,node=gzip-1,core={} busy={} {}\n", i, i * 0.5, now_s_);
  auto r = post_lp("/api/v1/write?precision=s", gzip(body), {{"Content-Encoding", "gzip"}});
  ASSERT_EQ(r.status, 204) << r.body;
  std::vector<std::string> expected;
  for (int i = 0; i < 50; ++i)
    expected.push_back(
        row("gz.busy", "gzip-1", {{"core", std::to_string(i)}}, i * 0.5, now_s_ * 1000));
  EXPECT_EQ(db().samples("gzip-1"), sorted(expected));
}

TEST_F(IngestLineProtocol, CorruptGzipIs400) {
  std::string good = gzip(fmt::format("gz,node=gzip-2 v=1 {}\n", now_s_));
  std::string truncated = good.substr(0, good.size() / 2);
  std::string flipped = good;
  flipped[flipped.size() - 6] ^= 0x55;  // inside the CRC-32 trailer
  for (const auto& body : {std::string("definitely not gzip"), truncated, flipped}) {
    auto r = post_lp("/api/v1/write?precision=s", body, {{"Content-Encoding", "gzip"}});
    expect_error(r, 400, "invalid_argument");
    EXPECT_EQ(detail_places(r), std::vector<std::string>{"body"});
  }
  EXPECT_EQ(db().stored("gzip-2"), 0);
}

TEST_F(IngestLineProtocol, UnsupportedEncodingOrTypeIs415) {
  std::string body = fmt::format("x,node=enc-1 v=1 {}\n", now_s_);
  expect_error(post_lp("/api/v1/write?precision=s", body, {{"Content-Encoding", "br"}}), 415,
               "unsupported_media_type");
  expect_error(post("/api/v1/write?precision=s", body), 415, "unsupported_media_type");
  EXPECT_EQ(db().stored("enc-1"), 0);
  // No Content-Type at all is line protocol (curl --data-binary, InfluxDB clients).
  EXPECT_EQ(post("/api/v1/write?precision=s", body, {}).status, 204);
  EXPECT_EQ(db().stored("enc-1"), 1);
}

TEST_F(IngestLineProtocol, BadPrecisionIs400) {
  auto r = post_lp("/api/v1/write?precision=sec", fmt::format("x,node=prec-bad v=1 {}", now_s_));
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r), std::vector<std::string>{"precision"});
  EXPECT_EQ(db().stored("prec-bad"), 0);
}

TEST_F(IngestLineProtocol, NamesOutsideTheRulesBecomeUnderscores) {
  auto r = post_lp("/api/v1/write?precision=s",
                   fmt::format("my\\ meas,node=san-1,tag-key=v,9t=w field/x=1,2nd=2 {}", now_s_));
  ASSERT_EQ(r.status, 204) << r.body;
  json labels = {{"tag_key", "v"}, {"_9t", "w"}};
  int64_t t = now_s_ * 1000;
  EXPECT_EQ(db().samples("san-1"), sorted({row("my_meas.field_x", "san-1", labels, 1, t),
                                           row("my_meas._2nd", "san-1", labels, 2, t)}));
}

TEST_F(IngestLineProtocol, TelegrafBatchGoesInUnchanged) {
  const std::string skipped = "metricsd_ingest_string_fields_skipped_total";
  double skipped0 = scrape(port(), skipped);
  int64_t ns = now_s_ * 1'000'000'000;
  // What Telegraf's inputs.cpu/mem/system/disk/net/docker write by default.
  std::string body = fmt::format(
      "cpu,cpu=cpu-total,host=tg-host usage_idle=97.5,usage_user=1.25,usage_system=0.75 {0}\n"
      "mem,host=tg-host active=1234567i,available_percent=61.5,used_percent=38.5 {0}\n"
      "system,host=tg-host load1=0.42,n_cpus=16i,n_users=2i {0}\n"
      "system,host=tg-host uptime_format=\"5 days,  3:04\" {0}\n"
      "disk,device=nvme0n1p2,fstype=ext4,host=tg-host,mode=rw,path=/ free=1.5e11,used_percent=42.1 "
      "{0}\n"
      "net,host=tg-host,interface=eth0 bytes_recv=123456789u,err_in=0i {0}\n"
      "docker_container_status,container_name=web,host=tg-host "
      "oomkilled=false,pid=1234i,container_id=\"abc123\" {0}\n",
      ns);
  auto r = post_lp("/write", body);
  ASSERT_EQ(r.status, 204) << r.body;
  int64_t t = now_s_ * 1000;
  json none = json::object();
  json cpu = {{"cpu", "cpu-total"}};
  json disk = {{"device", "nvme0n1p2"}, {"fstype", "ext4"}, {"mode", "rw"}, {"path", "/"}};
  json net = {{"interface", "eth0"}};
  json docker = {{"container_name", "web"}};
  EXPECT_EQ(db().samples("tg-host"),
            sorted({row("cpu.usage_idle", "tg-host", cpu, 97.5, t),
                    row("cpu.usage_user", "tg-host", cpu, 1.25, t),
                    row("cpu.usage_system", "tg-host", cpu, 0.75, t),
                    row("mem.active", "tg-host", none, 1234567, t),
                    row("mem.available_percent", "tg-host", none, 61.5, t),
                    row("mem.used_percent", "tg-host", none, 38.5, t),
                    row("system.load1", "tg-host", none, 0.42, t),
                    row("system.n_cpus", "tg-host", none, 16, t),
                    row("system.n_users", "tg-host", none, 2, t),
                    row("disk.free", "tg-host", disk, 1.5e11, t),
                    row("disk.used_percent", "tg-host", disk, 42.1, t),
                    row("net.bytes_recv", "tg-host", net, 123456789, t),
                    row("net.err_in", "tg-host", net, 0, t),
                    row("docker_container_status.oomkilled", "tg-host", docker, 0, t),
                    row("docker_container_status.pid", "tg-host", docker, 1234, t)}));
  EXPECT_EQ(scrape(port(), skipped), skipped0 + 2);
}

}  // namespace
}  // namespace metricsd::test
