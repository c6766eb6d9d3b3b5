// Query targets and answer reading per system (see query_systems.hpp).
#include "bench/query_systems.hpp"

#include <algorithm>
#include <boost/url/url.hpp>
#include <cmath>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <utility>

namespace metricsd::bench {
namespace {

using nlohmann::json;

double number_of(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) return std::stod(v.get<std::string>());
  throw std::runtime_error("not a number: " + v.dump());
}

std::string target(const std::string& prefix, const std::string& path,
                   std::initializer_list<std::pair<std::string, std::string>> params) {
  boost::urls::url u;
  u.set_path(prefix + path);
  for (const auto& [k, v] : params)
    u.params().append({k, v});
  return std::string(u.buffer());
}

bool close_to(double a, double b) {
  return std::fabs(a - b) <= 1e-6 * std::max(1.0, std::fabs(b));
}

}  // namespace

std::vector<QueryDef> queries_for(const QueryOptions& o, const DataSet& d,
                                  const std::string& prefix) {
  const std::string from_s = std::to_string(d.from_ms / 1000),
                    to_s = std::to_string(d.to_ms / 1000);
  if (o.system == "vm") {
    const std::string name = "node_metrics_" + o.field;
    // VictoriaMetrics' line-protocol import names a series <measurement>_<field>. A bare
    // selector in a range query gives the last sample before each step, not an average;
    // avg_over_time(x[1m]) at t averages (t - 1m, t], which with no sample on a minute
    // boundary is exactly metricsd's and InfluxDB's bucket [t - 1m, t).
    QueryDef range{"range_1m", true,
                   target(prefix, "/api/v1/query_range",
                          {{"query", "avg_over_time(" + name + "{node=\"" + o.node + "\"}[1m])"},
                           {"start", from_s},
                           {"end", to_s},
                           {"step", "60"}})};
    QueryDef latest{"latest", false, target(prefix, "/api/v1/query", {{"query", name}})};
    QueryDef category{
        "latest_category", false,
        target(prefix, "/api/v1/query", {{"query", "{__name__=~\"node_metrics_.*\"}"}}), true};
    if (o.vm_nocache) {
      range.target += "&nocache=1";
      latest.target += "&nocache=1";
      category.target += "&nocache=1";
    }
    return {range, latest, category};
  }
  if (o.system == "influx") {
    const std::string range_q = "SELECT mean(\"" + o.field + "\") FROM node_metrics WHERE node='" +
                                o.node + "' AND time >= " + std::to_string(d.from_ms) +
                                "ms AND time < " + std::to_string(d.to_ms) + "ms GROUP BY time(1m)";
    const std::string latest_q = "SELECT last(\"" + o.field + "\") FROM node_metrics GROUP BY node";
    const std::string category_q = "SELECT last(*) FROM node_metrics GROUP BY node";
    return {
        {"range_1m", true,
         target(prefix, "/query", {{"db", "bench"}, {"epoch", "ms"}, {"q", range_q}})},
        {"latest", false,
         target(prefix, "/query", {{"db", "bench"}, {"epoch", "ms"}, {"q", latest_q}})},
        {"latest_category", false,
         target(prefix, "/query", {{"db", "bench"}, {"epoch", "ms"}, {"q", category_q}}), true}};
  }
  const std::string metric = "node_metrics." + o.field;
  return {{"range_1m", true,
           target(prefix, "/api/v1/query",
                  {{"metric", metric},
                   {"node", o.node},
                   {"from", from_s},
                   {"to", to_s},
                   {"step", "1m"},
                   {"agg", "avg"}})},
          {"latest", false, target(prefix, "/api/v1/latest", {{"metric", metric}})},
          {"latest_category", false,
           target(prefix, "/api/v1/latest", {{"category", "node_metrics"}}), true}};
}

Summary summarize(const std::string& system, bool range, const tools::HttpReply& a) {
  Summary s;
  if (a.status != 200) {
    s.error = a.status == 0 ? a.error : "HTTP " + std::to_string(a.status) + ": " + a.body;
    if (s.error.size() > 300) s.error.resize(300);
    return s;
  }
  try {
    const json j = json::parse(a.body);
    std::set<std::string> nodes;
    const auto add_point = [&](const json& v) {
      if (v.is_null()) return;
      s.checksum += number_of(v);
      ++s.points;
    };
    if (system == "vm") {
      if (j.value("status", "") != "success") throw std::runtime_error(a.body.substr(0, 300));
      for (const json& r : j.at("data").at("result")) {
        ++s.series;
        if (r.at("metric").contains("node")) nodes.insert(r["metric"]["node"].get<std::string>());
        if (range) {
          for (const json& p : r.at("values"))
            add_point(p.at(1));
        } else {
          add_point(r.at("value").at(1));
        }
      }
    } else if (system == "influx") {
      const json& result = j.at("results").at(0);
      if (result.contains("error")) throw std::runtime_error(result["error"].dump());
      for (const json& r : result.value("series", json::array())) {
        ++s.series;
        if (r.contains("tags") && r["tags"].contains("node"))
          nodes.insert(r["tags"]["node"].get<std::string>());
        // Column 0 is the time; last(*) has one column per field.
        for (const json& row : r.at("values"))
          for (size_t c = 1; c < row.size(); ++c)
            add_point(row.at(c));
      }
    } else if (range) {  // metricsd /api/v1/query
      for (const json& r : j.at("series")) {
        ++s.series;
        nodes.insert(r.at("node").get<std::string>());
        for (const json& p : r.at("points"))
          add_point(p.at(1));
      }
    } else {  // metricsd /api/v1/latest: an array of {metric, node, labels, ts, value}
      for (const json& r : j) {
        ++s.series;
        nodes.insert(r.at("node").get<std::string>());
        add_point(r.at("value"));
      }
    }
    s.nodes = nodes.size();
    s.ok = true;
  } catch (const std::exception& e) {
    s.error = std::string("bad answer: ") + e.what();
  }
  return s;
}

bool matches(const QueryDef& q, const Summary& s, const Expected& want) {
  if (!s.ok) return false;
  if (q.range)
    return s.series == 1 && (s.points == want.range_points || s.points == want.range_points + 1) &&
           close_to(s.checksum, want.range_checksum);
  if (q.category)
    return s.nodes == want.latest_nodes && s.points == want.category_points &&
           close_to(s.checksum, want.category_checksum);
  return s.nodes == want.latest_nodes && s.points == want.latest_nodes &&
         close_to(s.checksum, want.latest_checksum);
}

}  // namespace metricsd::bench
