// TLS against the real daemon: with tls.cert_file/tls.key_file it serves HTTPS only
// (TLS 1.2 or newer; plain HTTP gets no answer), reloads the certificate on SIGHUP
// (a bad file then keeps the old one), refuses to start on unreadable files, and streams
// the CSV export over TLS.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/clock.hpp"
#include "core/compaction.hpp"
#include "core/time_parse.hpp"
#include "harness.hpp"
#include "tls_client.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(Tls, ServesHttpsOnlyWithModernProtocolsAndReloadsOnSighup) {
  TempDir dir;
  std::string cert = (dir.path() / "cert.pem").string(), key = (dir.path() / "key.pem").string();
  make_self_signed(cert, key, "first");
  Daemon d(dir.path() / "data", {"--tls-cert-file", cert, "--tls-key-file", key});
  ASSERT_TRUE(d.wait_listening()) << d.log();
  EXPECT_NE(d.log().find("listening on https://"), std::string::npos) << d.log();

  std::string serial1;
  TlsOptions opts{cert, 0, &serial1};
  HttpResult ready;
  for (int i = 0; i < 300 && ready.status != 200; ++i) {
    ready = https_request(d.port(), "GET", "/readyz", opts);
    if (ready.status != 200) std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_FALSE(serial1.empty());
  EXPECT_NE(ready.header("strict-transport-security"), "");
  std::string token = admin_token(d.port());
  auto nodes = https_request(d.port(), "GET", "/api/v1/nodes", opts, "", token);
  EXPECT_EQ(nodes.status, 200) << nodes.body;
  EXPECT_EQ(https_request(d.port(), "GET", "/api/v1/nodes", opts).status, 401);

  // WSS: the live stream over the same TLS listener.
  auto pong = wss_exchange(d.port(), opts, token, R"({"op":"ping","id":7})");
  EXPECT_NE(pong.find("\"pong\""), std::string::npos) << pong;
  EXPECT_NE(pong.find("7"), std::string::npos) << pong;
  EXPECT_ANY_THROW(wss_exchange(d.port(), opts, "mtd_wrong", R"({"op":"ping","id":1})"));

  // Plain HTTP on the TLS port gets no HTTP answer.
  std::string plain = raw_exchange(d.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
  EXPECT_EQ(plain.find("HTTP/1.1 200"), std::string::npos) << plain;

  // TLS 1.1 and older are refused.
  TlsOptions old{cert, TLS1_1_VERSION, nullptr};
  EXPECT_ANY_THROW(https_request(d.port(), "GET", "/healthz", old));

  // SIGHUP: new connections get the new certificate.
  make_self_signed(cert, key, "second");
  d.signal(SIGHUP);
  std::string serial2;
  TlsOptions fresh{cert, 0, &serial2};
  for (int i = 0; i < 50; ++i) {
    try {
      if (https_request(d.port(), "GET", "/healthz", fresh).status == 200 && serial2 != serial1)
        break;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(serial2, serial1);
  EXPECT_NE(d.log().find("certificate reloaded"), std::string::npos);

  // A broken file on reload keeps the certificate in use.
  std::string kept = (dir.path() / "kept.pem").string();
  fs::copy_file(cert, kept);
  { std::ofstream(cert) << "not a certificate"; }
  d.signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return d.log().find("reload failed") != std::string::npos; }))
      << d.log();
  std::string serial3;
  TlsOptions still{kept, 0, &serial3};
  EXPECT_EQ(https_request(d.port(), "GET", "/healthz", still).status, 200);
  EXPECT_EQ(serial3, serial2);
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(20s), 0);
}

// The streamed (chunked) CSV export over TLS: the same rows, across several blocks.
TEST(Tls, CsvExportIsStreamedOverHttps) {
  TempDir dir;
  std::string cert = (dir.path() / "cert.pem").string(), key = (dir.path() / "key.pem").string();
  make_self_signed(cert, key, "csv");
  Daemon d(dir.path() / "data", {"--tls-cert-file", cert, "--tls-key-file", key});
  ASSERT_TRUE(d.wait_listening()) << d.log();
  TlsOptions opts{cert, 0, nullptr};
  HttpResult ready;
  for (int i = 0; i < 300 && ready.status != 200; ++i) {
    ready = https_request(d.port(), "GET", "/readyz", opts);
    if (ready.status != 200) std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(ready.status, 200) << ready.body;
  std::string token = admin_token(d.port());
  // Two series, a sample every 2 s for 4 h: at step=1s, blocks of 10 000 buckets split it.
  const int64_t base = floor_to(wall_ms() - 6 * kHourMs, kHourMs);
  const int samples = 7200;
  std::string lines;
  for (int i = 0; i < samples; ++i)
    for (int g = 0; g < 2; ++g)
      lines += fmt::format("tls,node=t1,g={} v={} {}\n", g, i * 10 + g, base + i * 2000);
  auto w = https_request(d.port(), "POST", "/api/v1/write?precision=ms", opts, lines, token);
  ASSERT_EQ(w.status, 204) << w.body;
  auto r = https_request(d.port(), "GET",
                         fmt::format("/api/v1/query?metric=tls.v&from={}&to={}&step=1s&format=csv",
                                     base / 1000, (base + 4 * kHourMs) / 1000),
                         opts, "", token);
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  EXPECT_EQ(r.header("content-length"), "");
  EXPECT_NE(r.header("strict-transport-security"), "");
  std::string expected = "time,node,labels,value\n";
  for (int g = 0; g < 2; ++g)
    for (int i = 0; i < samples; ++i)
      expected += fmt::format("{},t1,\"{{\"\"g\"\":\"\"{}\"\"}}\",{}\n",
                              format_rfc3339_ms(base + i * 2000), g, i * 10 + g);
  EXPECT_EQ(r.body.size(), expected.size());
  EXPECT_TRUE(r.body == expected) << r.body.substr(0, 300);
}

TEST(Tls, UnreadableOrMismatchedFilesStopStartUp) {
  TempDir dir;
  std::string out;
  EXPECT_EQ(Daemon::run({"serve", "--data-dir", (dir.path() / "d").string(), "--tls-cert-file",
                         "/nonexistent/cert.pem", "--tls-key-file", "/nonexistent/key.pem"},
                        &out),
            1);
  EXPECT_NE(out.find("tls.cert_file /nonexistent/cert.pem"), std::string::npos) << out;
  EXPECT_EQ(Daemon::run({"serve", "--tls-cert-file", "/x.pem"}, &out), 2);
  EXPECT_NE(out.find("tls.key_file"), std::string::npos) << out;
  std::string c1 = (dir.path() / "c1.pem").string(), k1 = (dir.path() / "k1.pem").string();
  std::string c2 = (dir.path() / "c2.pem").string(), k2 = (dir.path() / "k2.pem").string();
  make_self_signed(c1, k1, "one");
  make_self_signed(c2, k2, "two");
  EXPECT_EQ(Daemon::run({"serve", "--data-dir", (dir.path() / "d2").string(), "--tls-cert-file", c1,
                         "--tls-key-file", k2},
                        &out),
            1);
  EXPECT_NE(out.find("mismatch"), std::string::npos) << out;
}

}  // namespace
}  // namespace metricsd::test
