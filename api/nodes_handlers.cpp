// The fleet read endpoints; see nodes_handlers.hpp.
#include "api/nodes_handlers.hpp"

#include "api/query_params.hpp"

#include <map>
#include <unordered_map>

#include "core/names.hpp"
#include "core/node_status.hpp"
#include "core/series_filter.hpp"
#include "core/time_parse.hpp"
#include "storage/node_store.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

// The registry is walked in pages of this many series so that its lock is never held
// for long (series creation waits for it).
constexpr size_t kSeriesPage = 4096;

ApiError bad(const std::string& field, const std::string& message) {
  return ApiError::invalid_argument(field + ": " + message,
                                    json::array({{{"field", field}, {"message", message}}}));
}

void reject_any_query(const Request& req) {
  for (const auto& [k, v] : req.query)
    if (!credential_param(k)) throw bad(k, "unknown parameter (this endpoint takes none)");
}

// Calls fn(id, key) for every series matching `filter`, in id order. Returns how many.
template <class Fn>
size_t for_each_series(const storage::SeriesRegistry& registry, const SeriesFilter& filter, Fn fn) {
  size_t n = 0;
  int64_t after = 0;
  for (;;) {
    auto page = registry.select(filter, after, kSeriesPage);
    for (const auto& [id, key] : page)
      fn(id, key);
    n += page.size();
    if (page.size() < kSeriesPage) return n;
    after = page.back().first;
  }
}

// The key of a series in a node's `latest`: the metric, then its labels (sorted by key)
// as in the Prometheus text format: gpu.temp_c{gpu="0",slot="a\"b"}.
std::string latest_key(const SeriesKey& key) {
  if (key.labels.empty()) return key.metric;
  std::string out = key.metric + '{';
  for (size_t i = 0; i < key.labels.size(); ++i) {
    if (i) out += ',';
    out += key.labels[i].first;
    out += "=\"";
    for (char c : key.labels[i].second) {
      if (c == '\\' || c == '"') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  return out + '}';
}

// A stored jsonb object; an object in any case so the answer's shape never varies.
json object_of(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return j.is_object() ? j : json::object();
}

json node_json(const storage::NodeRow& n, json latest) {
  return {{"node_id", n.node_id},
          {"type", n.type},
          {"hostname", n.hostname},
          {"labels", object_of(n.labels_json)},
          {"status", n.status},
          {"first_seen", format_rfc3339_ms(n.first_seen_ms)},
          {"last_seen", format_rfc3339_ms(n.last_seen_ms)},
          {"state", object_of(n.state_json)},
          {"interval_s", n.interval_s ? json(*n.interval_s) : json(nullptr)},
          {"latest", std::move(latest)}};
}

}  // namespace

NodesHandlers::NodesHandlers(storage::Database& db, storage::SeriesRegistry& registry,
                             const Head& head, const RateWindow& ingest_rate,
                             prom::Registry& metrics)
    : db_(db),
      registry_(registry),
      head_(head),
      ingest_rate_(ingest_rate),
      series_read_(metrics
                       .counter("metricsd_fleet_series_read_total",
                                "Series read from the registry by the nodes and summary "
                                "endpoints to gather latest values")
                       .get()) {}

boost::asio::awaitable<Response> NodesHandlers::list(Request& req) {
  storage::NodeFilter f;
  for (const auto& [k, v] : req.query) {
    if (k == "status") {
      if (f.status) throw bad("status", "given more than once");
      if (!parse_node_status(v)) throw bad("status", "must be online, stale or offline");
      f.status = v;
    } else if (k == "type") {
      if (f.type) throw bad("type", "given more than once");
      if (v.size() > 256) throw bad("type", "longer than 256 bytes");
      if (!valid_text(v)) throw bad("type", "must be UTF-8 without NUL");
      f.type = v;
    } else if (k == "label") {
      auto colon = v.find(':');
      if (colon == std::string::npos) throw bad("label", "must be key:value");
      std::string key = v.substr(0, colon), value = v.substr(colon + 1);
      if (!valid_label_key(key))
        throw bad("label", "key \"" + key + "\" must match [A-Za-z_][A-Za-z0-9_]{0,63}");
      if (!valid_label_value(value))
        throw bad("label", "value must be UTF-8 without NUL, at most 1024 bytes");
      f.labels.emplace_back(std::move(key), std::move(value));
    } else if (!credential_param(k)) {
      throw bad(k, "unknown parameter (expected status, type, label)");
    }
  }
  if (!db_.ready()) throw ApiError::unavailable(db_.not_ready_reason(), 2);
  // The registry walk (CPU over every series for a fleet-wide list) runs on the storage
  // thread too, never on an io thread.
  std::vector<storage::NodeRow> rows;
  std::unordered_map<std::string, json> latest;  // node id -> its latest values
  co_await db_.read_pool().run([&](pqxx::connection& c) {
    rows = storage::list_nodes(c, f);
    for (const auto& n : rows)
      latest.emplace(n.node_id, json::object());
    // One node: only its series. More: one walk over every series, keeping theirs.
    SeriesFilter series;
    if (rows.size() == 1) series.node = rows.front().node_id;
    if (rows.empty()) return;
    size_t read = for_each_series(registry_, series, [&](int64_t id, const SeriesKey& key) {
      auto it = latest.find(key.node);
      if (it == latest.end()) return;
      if (auto p = head_.latest(id)) it->second[latest_key(key)] = p->value;
    });
    series_read_.inc(static_cast<double>(read));
  });

  json nodes = json::array();
  for (const auto& n : rows)
    nodes.push_back(node_json(n, std::move(latest[n.node_id])));
  co_return json_response(200, {{"nodes", std::move(nodes)}});
}

boost::asio::awaitable<Response> NodesHandlers::get(Request& req) {
  std::string node(req.path_param("node_id"));
  if (!valid_node_id(node)) throw bad("node_id", "must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}");
  reject_any_query(req);
  if (!db_.ready()) throw ApiError::unavailable(db_.not_ready_reason(), 2);
  auto row =
      co_await db_.read_pool().run([&](pqxx::connection& c) { return storage::get_node(c, node); });
  if (!row) throw ApiError::not_found("no node " + node);

  json latest = json::object();
  SeriesFilter series;
  series.node = node;
  size_t read = for_each_series(registry_, series, [&](int64_t id, const SeriesKey& key) {
    if (auto p = head_.latest(id)) latest[latest_key(key)] = p->value;
  });
  series_read_.inc(static_cast<double>(read));
  json out = node_json(*row, std::move(latest));
  out["info"] = object_of(row->info_json);
  co_return json_response(200, out);
}

boost::asio::awaitable<Response> NodesHandlers::summary(Request& req) {
  reject_any_query(req);
  if (!db_.ready()) throw ApiError::unavailable(db_.not_ready_reason(), 2);
  struct Category {
    int64_t series = 0;
    std::map<std::string, double> sum;  // metric -> sum of its series' latest values
  };
  std::map<std::string, Category, std::less<>> categories;
  storage::NodeCounts counts;
  // The walk over every series runs on the storage thread, never on an io thread.
  co_await db_.read_pool().run([&](pqxx::connection& c) {
    counts = storage::count_nodes_by_status(c);
    size_t series =
        for_each_series(registry_, SeriesFilter{}, [&](int64_t id, const SeriesKey& key) {
          auto name = metric_category(key.metric);
          auto it = categories.find(name);
          if (it == categories.end()) it = categories.emplace(std::string(name), Category{}).first;
          ++it->second.series;
          if (auto p = head_.latest(id)) it->second.sum[key.metric] += p->value;
        });
    series_read_.inc(static_cast<double>(series));
  });

  json by_category = json::object();
  for (const auto& [name, c] : categories) {
    json sum = json::object();
    for (const auto& [metric, total] : c.sum)
      sum[metric] = total;
    by_category[name] = {{"series", c.series}, {"sum", std::move(sum)}};
  }
  co_return json_response(
      200, {{"nodes",
             {{"total", counts.total()},
              {"online", counts.online},
              {"stale", counts.stale},
              {"offline", counts.offline}}},
            {"series", registry_.size()},
            {"ingest", {{"samples_per_s", ingest_rate_.per_second(RateWindow::now_s())}}},
            {"categories", std::move(by_category)}});
}

}  // namespace metricsd::api
