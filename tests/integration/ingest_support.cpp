// Shared helpers of the ingest tests; see ingest_support.hpp.
#include "ingest_support.hpp"
#include "core/clock.hpp"

#include <zlib.h>

#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <sstream>

namespace metricsd::test {

using nlohmann::json;

std::string rfc3339(int64_t unix_s) {
  time_t t = static_cast<time_t>(unix_s);
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buf;
}

std::string gzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string row(std::string_view metric, std::string_view node, const json& labels, double value) {
  return fmt::format("{} {} {} {}", metric, node, labels.is_null() ? "{}" : labels.dump(), value);
}
std::string row(std::string_view metric, std::string_view node, const json& labels, double value,
                int64_t ts_ms) {
  return fmt::format("{} @{}", row(metric, node, labels, value), ts_ms);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

Db::Db(const std::filesystem::path& data_dir)
    : conn_("host=" + (data_dir / "run").string() + " port=5432 user=postgres dbname=metricsd") {}

std::vector<std::string> Db::samples(const std::string& node, bool with_time) {
  pqxx::nontransaction tx(conn_);
  std::vector<std::string> out;
  for (const auto& r :
       tx.exec_params("SELECT metric, node, labels::text, value, "
                      "round(extract(epoch FROM time) * 1000)::bigint FROM metrics WHERE node = $1",
                      node)) {
    auto labels = json::parse(r[2].as<std::string>());
    auto metric = r[0].as<std::string>(), n = r[1].as<std::string>();
    out.push_back(with_time ? row(metric, n, labels, r[3].as<double>(), r[4].as<int64_t>())
                            : row(metric, n, labels, r[3].as<double>()));
  }
  return sorted(std::move(out));
}

std::vector<int64_t> Db::times_ms(const std::string& node) {
  pqxx::nontransaction tx(conn_);
  std::vector<int64_t> out;
  for (const auto& r : tx.exec_params(
           "SELECT round(extract(epoch FROM time) * 1000)::bigint FROM metrics WHERE node = $1",
           node))
    out.push_back(r[0].as<int64_t>());
  return out;
}

int64_t Db::count(const std::string& sql, const std::string& param) {
  pqxx::nontransaction tx(conn_);
  auto r = param.empty() ? tx.exec(sql) : tx.exec_params(sql, param);
  return r[0][0].as<int64_t>();
}

int64_t Db::stored(const std::string& node) {
  return count("SELECT count(*) FROM metrics WHERE node = $1", node);
}

int64_t Db::series(const std::string& node) {
  return count("SELECT count(*) FROM series WHERE node_id = $1", node);
}

pqxx::result Db::query(const std::string& sql, const std::string& param) {
  pqxx::nontransaction tx(conn_);
  return tx.exec_params(sql, param);
}

void Db::exec(const std::string& sql) {
  pqxx::nontransaction tx(conn_);
  tx.exec(sql);
}

void expect_error(const HttpResult& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto j = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j["error"]["code"], code) << r.body;
  EXPECT_TRUE(j["error"]["message"].is_string());
  EXPECT_TRUE(j["error"]["details"].is_array());
}

std::vector<std::string> detail_places(const HttpResult& r) {
  std::vector<std::string> out;
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& d : j["error"]["details"])
    out.push_back(d.contains("line") ? "line " + d["line"].dump() : d.value("field", "?"));
  return out;
}

std::string error_message(const HttpResult& r) {
  auto j = json::parse(r.body, nullptr, false);
  return j.is_object() ? j["error"].value("message", "") : "";
}

double scrape(int port, const std::string& series) {
  return metric_value(port, series, 0);
}

}  // namespace metricsd::test
