// What the ingest tests (ingest_*_test.cpp) share: time and gzip helpers, a reader of the
// daemon's embedded PostgreSQL that renders stored samples as comparable text, checks of
// the API's error shape, a /metrics scraper, and IngestBase, the fixture that gives each
// suite one daemon of its own.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "harness.hpp"

namespace metricsd::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Whole seconds, UTC: "2026-11-24T10:00:00Z".
std::string rfc3339(int64_t unix_s);

// gzip (not zlib) framing, as curl --compressed and Telegraf's content_encoding send it.
std::string gzip(const std::string& in);

// One stored sample as text, so a mismatch prints readably: "metric node {labels} value @ts".
// No labels may be written `{}` (which nlohmann reads as null).
std::string row(std::string_view metric, std::string_view node, const nlohmann::json& labels,
                double value);
std::string row(std::string_view metric, std::string_view node, const nlohmann::json& labels,
                double value, int64_t ts_ms);

std::vector<std::string> sorted(std::vector<std::string> v);

// Reads the daemon's embedded PostgreSQL over its unix socket (tests run as root).
class Db {
 public:
  explicit Db(const std::filesystem::path& data_dir);

  // Every stored sample of `node`, sorted; with_time=false leaves the time out.
  std::vector<std::string> samples(const std::string& node, bool with_time = true);
  std::vector<int64_t> times_ms(const std::string& node);
  int64_t count(const std::string& sql, const std::string& param = "");
  int64_t stored(const std::string& node);
  int64_t series(const std::string& node);
  pqxx::result query(const std::string& sql, const std::string& param);
  void exec(const std::string& sql);  // statements without parameters (DDL)

 private:
  pqxx::connection conn_;
};

void expect_error(const HttpResult& r, int status, const std::string& code);

// The `field` (or `line`) of each detail of a 400.
std::vector<std::string> detail_places(const HttpResult& r);

std::string error_message(const HttpResult& r);

// The value of one series in the daemon's /metrics (0 when absent).
double scrape(int port, const std::string& series);

// One daemon per suite; suites run one after another, so they share the slot.
class IngestBase : public ::testing::Test {
 protected:
  static void start(std::vector<std::string> args) {
    dir_ = std::make_unique<TempDir>();
    daemon_ = std::make_unique<Daemon>(dir_->path(), std::move(args));
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void stop() {
    daemon_.reset();  // before its data dir goes
    dir_.reset();
  }
  int port() const { return daemon_->port(); }
  Db& db() {
    if (!db_) db_ = std::make_unique<Db>(dir_->path());
    return *db_;
  }
  HttpResult post(const std::string& target, const std::string& body,
                  const Headers& headers = {{"Content-Type", "application/json"}}) {
    return http_request(port(), "POST", target, body, headers);
  }
  HttpResult post_lp(const std::string& target, const std::string& body, Headers headers = {}) {
    headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    return http_request(port(), "POST", target, body, headers);
  }

  static inline std::unique_ptr<TempDir> dir_;
  static inline std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<Db> db_;
  const int64_t now_s_ = wall_ms() / 1000;
};

}  // namespace metricsd::test
