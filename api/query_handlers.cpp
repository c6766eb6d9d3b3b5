// Read endpoints; see query_handlers.hpp.
#include "api/query_handlers.hpp"

#include <fmt/format.h>
#include <cmath>

#include "api/json_write.hpp"
#include "api/query_params.hpp"
#include "core/clock.hpp"
#include "core/names.hpp"
#include "core/settings.hpp"
#include "core/time_parse.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

std::string param(const Request& req, std::string_view name, std::string fallback = "") {
  auto v = req.query_param(name);
  return v ? std::string(*v) : fallback;
}

// node=, label=key:value (repeatable), metric= / category= into a filter.
SeriesFilter filter_from(const Request& req) {
  SeriesFilter f;
  if (auto n = req.query_param("node")) {
    if (!valid_node_id(*n)) throw bad_param("node", "not a valid node id");
    f.node = std::string(*n);
  }
  for (const auto& [k, v] : req.query) {
    if (k != "label") continue;
    auto colon = v.find(':');
    if (colon == std::string::npos || colon == 0 || !valid_label_key(v.substr(0, colon)))
      throw bad_param("label", "must be key:value with a valid label key, got \"" + v + "\"");
    f.labels.emplace_back(v.substr(0, colon), v.substr(colon + 1));
  }
  return f;
}

// [[ms,value],...] with the shortest text that reads back as the same double; a sum that
// overflowed to infinity is null (JSON has no infinity).
void append_points(std::string& out, const std::vector<std::pair<int64_t, double>>& points) {
  out += '[';
  for (size_t i = 0; i < points.size(); ++i) {
    double v = points[i].second;
    if (std::isfinite(v))
      fmt::format_to(std::back_inserter(out), "{}[{},{}]", i ? "," : "", points[i].first, v);
    else
      fmt::format_to(std::back_inserter(out), "{}[{},null]", i ? "," : "", points[i].first);
  }
  out += ']';
}

bool wants_csv(const Request& req) {
  if (auto f = req.query_param("format")) {
    if (*f == "csv") return true;
    if (*f == "json") return false;
    throw bad_param("format", "must be json or csv");
  }
  auto accept = req.header("accept");
  return accept && accept->find("text/csv") != std::string_view::npos;
}

}  // namespace

QueryHandlers::QueryHandlers(storage::Database& db, storage::SeriesRegistry& registry,
                             const Head& head, TierCache& cache, int64_t timeout_ms,
                             prom::Registry& metrics)
    : registry_(registry), head_(head), reader_(db, head, cache, timeout_ms, metrics) {}

QueryHandlers::Selected QueryHandlers::select(const SeriesFilter& f, size_t limit,
                                              const char* narrow_hint) const {
  auto found = registry_.select(f, 0, limit + 1);
  if (found.size() > limit)
    throw ApiError::invalid_argument(
        fmt::format("the query matches more than {} series; {}", limit, narrow_hint),
        json::array({{{"field", "series"}}}));
  return found;
}

boost::asio::awaitable<std::vector<std::vector<std::pair<int64_t, double>>>> QueryHandlers::run(
    const Selected& series, const Range& r, bool bulk) {
  std::vector<int64_t> ids;
  ids.reserve(series.size());
  for (const auto& [id, key] : series)
    ids.push_back(id);
  co_return co_await reader_.run(
      ids, r, bulk ? query::QueryReader::Keep::kNo : query::QueryReader::Keep::kYes);
}

boost::asio::awaitable<Response> QueryHandlers::query(Request& req) {
  only_params(req,
              {"metric", "node", "label", "from", "to", "step", "max_points", "agg", "format"});
  std::string metric = param(req, "metric");
  if (metric.empty()) throw bad_param("metric", "required");
  if (!valid_metric_name(metric)) throw bad_param("metric", "not a valid metric name");
  int64_t now = wall_ms();
  Range r{time_param(req, "from", "-1h", now), time_param(req, "to", "now", now), 0, Agg::kAvg};
  if (r.from_ms >= r.to_ms) throw bad_param("from", "must be before `to`");
  if (auto a = req.query_param("agg")) {
    auto agg = parse_agg(*a);
    if (!agg) throw bad_param("agg", "must be one of avg, min, max, sum, count, last");
    r.agg = *agg;
  }
  // CSV is streamed (query_csv.cpp), so it may hold more buckets per series than JSON.
  const bool csv = wants_csv(req);
  const int64_t max_points = csv ? kMaxCsvPoints : kMaxQueryPoints;
  if (auto s = req.query_param("step")) {
    if (req.query_param("max_points")) throw bad_param("step", "give step or max_points, not both");
    auto step = parse_duration_ms(*s);
    if (!step || *step < 1000)
      throw bad_param("step", "must be a duration of at least 1s, like 1m");
    // Ceiling division that cannot overflow, whatever the step (up to INT64_MAX ms).
    int64_t span = r.to_ms - r.from_ms;
    int64_t points = span / *step + (span % *step != 0 ? 1 : 0);
    if (points > max_points)
      throw bad_param(
          "step", csv ? fmt::format("{} would give {} points; at most {} per series in CSV (use a "
                                    "larger step)",
                                    *s, points, max_points)
                      : fmt::format("{} would give {} points; at most {} (use a larger step, or "
                                    "format=csv for up to {} per series)",
                                    *s, points, max_points, kMaxCsvPoints));
    r.step_ms = *step;
  } else {
    r.step_ms = step_for(r.from_ms, r.to_ms, int_param(req, "max_points", 1000, 1, max_points));
  }
  SeriesFilter f = filter_from(req);
  f.metric = metric;
  if (f.node && registry_.select(SeriesFilter{.node = f.node}, 0, 1).empty())
    throw ApiError::not_found("no node " + *f.node);
  auto series = select(f, kMaxQuerySeries, "narrow it with node= or label=");
  if (csv) co_return co_await csv_response(std::move(series), r);
  auto points = co_await run(series, r);
  // Written directly: building a JSON tree of every point cost more than reading them.
  Response res;
  res.body = fmt::format(R"({{"metric":{},"from":{},"to":{},"step_ms":{},"series":[)",
                         json_string(metric), r.from_ms, r.to_ms, r.step_ms);
  for (size_t i = 0; i < series.size(); ++i) {
    if (i) res.body += ',';
    res.body += R"({"node":)" + json_string(series[i].second.node) + R"(,"labels":)" +
                labels_text(series[i].second.labels) + R"(,"points":)";
    append_points(res.body, points[i]);
    res.body += '}';
  }
  res.body += "]}";
  co_return res;
}

// Written directly, as the query answer is: a whole category is tens of thousands of items.
std::string QueryHandlers::latest_of(const Selected& series) const {
  std::string out = "[";
  for (const auto& [id, key] : series) {
    auto p = head_.latest(id);
    if (!p) continue;
    if (out.size() > 1) out += ',';
    out += R"({"metric":)" + json_string(key.metric) + R"(,"node":)" + json_string(key.node) +
           R"(,"labels":)" + labels_text(key.labels);
    if (std::isfinite(p->value))
      fmt::format_to(std::back_inserter(out), R"(,"ts":{},"value":{}}})", p->ts_ms, p->value);
    else
      fmt::format_to(std::back_inserter(out), R"(,"ts":{},"value":null}})", p->ts_ms);
  }
  out += ']';
  return out;
}

boost::asio::awaitable<Response> QueryHandlers::latest(Request& req) {
  only_params(req, {"metric", "category", "node", "label"});
  SeriesFilter f = filter_from(req);
  if (auto m = req.query_param("metric")) {
    if (!valid_metric_name(*m)) throw bad_param("metric", "not a valid metric name");
    f.metric = std::string(*m);
  }
  if (auto c = req.query_param("category")) f.category = std::string(*c);
  if (!f.metric && !f.category && !f.node)
    throw bad_param("metric", "give metric=, category= or node=");
  Response res;
  res.body = latest_of(select(f, kMaxLatestSeries, "narrow it with node="));
  co_return res;
}

boost::asio::awaitable<Response> QueryHandlers::series(Request& req) {
  only_params(req, {"match", "node", "label", "limit", "cursor"});
  SeriesFilter f = filter_from(req);
  if (auto m = req.query_param("match")) f.glob = std::string(*m);
  int64_t limit = int_param(req, "limit", 100, 1, 1000);
  int64_t after = int_param(req, "cursor", 0, 0, INT64_MAX);
  auto page = registry_.select(f, after, static_cast<size_t>(limit));
  json out = json::array();
  for (const auto& [id, key] : page)
    out.push_back({{"id", id},
                   {"metric", key.metric},
                   {"category", std::string(metric_category(key.metric))},
                   {"node", key.node},
                   {"labels", labels_json(key.labels)}});
  json next = page.size() == static_cast<size_t>(limit) ? json(std::to_string(page.back().first))
                                                        : json(nullptr);
  co_return json_response(200, {{"series", std::move(out)}, {"next_cursor", next}});
}

boost::asio::awaitable<Response> QueryHandlers::category_latest(Request& req) {
  only_params(req, {"node"});
  SeriesFilter f = filter_from(req);
  f.category = std::string(req.path_param("category"));
  Response res;
  res.body = R"({"category":)" + json_string(*f.category) + R"(,"metrics":)" +
             latest_of(select(f, kMaxLatestSeries, "narrow it with node=")) + "}";
  co_return res;
}

boost::asio::awaitable<Response> QueryHandlers::category_history(Request& req) {
  only_params(req, {"node", "max_points", "agg"});
  SeriesFilter f = filter_from(req);
  f.category = std::string(req.path_param("category"));
  auto span = parse_duration_ms(req.path_param("timeframe"));
  if (!span || *span <= 0 || *span > 400LL * 86'400'000)
    throw bad_param("timeframe", "must be a duration like 30m, 24h or 7d (at most 400d)");
  int64_t now = wall_ms();
  Range r{now - *span, now, 0, Agg::kAvg};
  if (auto a = req.query_param("agg")) {
    auto agg = parse_agg(*a);
    if (!agg) throw bad_param("agg", "must be one of avg, min, max, sum, count, last");
    r.agg = *agg;
  }
  r.step_ms = step_for(r.from_ms, r.to_ms, int_param(req, "max_points", 1000, 1, kMaxQueryPoints));
  auto series = select(f, kMaxQuerySeries, "narrow it with node=");
  auto points = co_await run(series, r);
  json out = json::array();
  for (size_t i = 0; i < series.size(); ++i) {
    json pts = json::array();
    for (const auto& [t, v] : points[i])
      pts.push_back({t, v});
    out.push_back({{"metric", series[i].second.metric},
                   {"node", series[i].second.node},
                   {"labels", labels_json(series[i].second.labels)},
                   {"points", std::move(pts)}});
  }
  co_return json_response(200, {{"category", *f.category},
                                {"from", r.from_ms},
                                {"to", r.to_ms},
                                {"step_ms", r.step_ms},
                                {"series", std::move(out)}});
}

}  // namespace metricsd::api
