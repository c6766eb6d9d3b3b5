// Admin tools over stored series; see admin_handlers.hpp.
#include "api/admin_handlers.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/json_body.hpp"
#include "api/query_params.hpp"
#include "core/clock.hpp"
#include "core/log_escape.hpp"
#include "core/names.hpp"
#include "core/series_filter.hpp"
#include "core/time_parse.hpp"
#include "storage/token_store.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

// metric (exact, or a prefix ending in `*`), node, labels (each exactly) from the body.
SeriesFilter selector_of(const json& body) {
  if (!body.contains("metric"))
    throw bad_param("metric", "required: a metric name, or a prefix ending in * (gpu.*)");
  std::string metric = string_field(body, "metric", "", 1, kMaxMetricBytes + 1);
  SeriesFilter f;
  if (metric.back() == '*') {
    std::string_view prefix(metric.data(), metric.size() - 1);
    if (!prefix.empty() && !valid_metric_name(prefix))
      throw bad_param("metric", "a prefix before * must be the start of a valid metric name");
    f.glob = metric;  // no other * or ? can occur: they are not in metric names
  } else {
    if (!valid_metric_name(metric)) throw bad_param("metric", "not a valid metric name");
    f.metric = metric;
  }
  if (body.contains("node")) {
    std::string node = string_field(body, "node", "", 1, kMaxNodeIdBytes);
    if (!valid_node_id(node)) throw bad_param("node", "not a valid node id");
    f.node = node;
  }
  if (auto it = body.find("labels"); it != body.end()) {
    if (!it->is_object()) throw bad_param("labels", "must be an object of label names to values");
    if (it->size() > kMaxLabels)
      throw bad_param("labels", fmt::format("at most {} labels", kMaxLabels));
    for (const auto& [k, v] : it->items()) {
      if (!valid_label_key(k)) throw bad_param("labels." + k, "not a valid label name");
      if (!v.is_string() || !valid_label_value(v.get_ref<const std::string&>()))
        throw bad_param("labels." + k, "must be a string of at most 1024 bytes");
      f.labels.emplace_back(k, v.get<std::string>());
    }
  }
  return f;
}

// A time as /api/v1/query takes it: unix seconds (a number or its text), RFC 3339, now,
// -24h.
std::optional<int64_t> time_field(const json& body, const char* field, int64_t now_ms) {
  auto it = body.find(field);
  if (it == body.end()) return std::nullopt;
  std::optional<int64_t> ms;
  if (it->is_number())
    ms = seconds_to_ms(it->get<double>());
  else if (it->is_string())
    ms = parse_time_ms(it->get_ref<const std::string&>(), now_ms);
  if (!ms)
    throw bad_param(field, "must be a time: unix seconds, RFC 3339, now or relative like -24h");
  return ms;
}

bool bool_field(const json& body, const char* field, bool fallback) {
  auto it = body.find(field);
  if (it == body.end()) return fallback;
  if (!it->is_boolean()) throw bad_param(field, "must be true or false");
  return it->get<bool>();
}

int64_t int_field(const json& body, const char* field, int64_t fallback, int64_t lo, int64_t hi) {
  auto it = body.find(field);
  if (it == body.end()) return fallback;
  bool ok = it->is_number_integer();
  if (ok && it->is_number_unsigned()) ok = it->get<uint64_t>() <= static_cast<uint64_t>(hi);
  if (ok) ok = it->get<int64_t>() >= lo && it->get<int64_t>() <= hi;
  if (!ok) throw bad_param(field, fmt::format("must be an integer from {} to {}", lo, hi));
  return it->get<int64_t>();
}

json optional_ms(int64_t ms, int64_t unbounded) {
  return ms == unbounded ? json(nullptr) : json(ms);
}

// "metric=gpu.* node=gpu-07 labels={"gpu":"0"}": the audit row's target.
std::string selector_text(const SeriesFilter& f) {
  std::string out = "metric=" + (f.metric ? *f.metric : *f.glob);
  if (f.node) out += " node=" + *f.node;
  if (!f.labels.empty()) out += " labels=" + labels_json(f.labels);
  return out;
}

}  // namespace

AdminHandlers::AdminHandlers(storage::Database& db, storage::SeriesRegistry& registry, Head& head,
                             TierCache& cache, CommitGate& gate, prom::Registry& metrics)
    : db_(db),
      registry_(registry),
      deleter_(db.conninfo(), head, cache, gate, registry),
      deletions_(
          metrics.counter("metricsd_admin_series_deletions_total",
                          "Series deletion requests past validation, by outcome (deleted, dry_run, "
                          "too_many_series, busy, failed)",
                          {"outcome"})),
      deleted_samples_(metrics
                           .counter("metricsd_admin_deleted_samples_total",
                                    "Samples removed by series deletions")
                           .get()) {}

boost::asio::awaitable<Response> AdminHandlers::delete_series(Request& req) {
  only_params(req, {});
  json body =
      json_object_body(req, {"metric", "node", "labels", "from", "to", "dry_run", "max_series"});
  SeriesFilter filter = selector_of(body);
  const int64_t now = wall_ms();
  storage::SeriesDeletion d;
  auto from = time_field(body, "from", now), to = time_field(body, "to", now);
  if (from) d.range.from_ms = *from;
  if (to) d.range.to_ms = *to;
  if (d.range.from_ms >= d.range.to_ms) throw bad_param("from", "must be before `to`");
  d.dry_run = bool_field(body, "dry_run", true);
  const int64_t max_series =
      int_field(body, "max_series", kDefaultDeleteSeries, 1, kMaxDeleteSeries);
  if (!db_.ready()) throw ApiError::unavailable(db_.not_ready_reason(), 2);
  if (deleting_.exchange(true)) {
    deletions_.with({"busy"}).inc();
    throw ApiError(409, "conflict", "a series deletion is running; retry once it is done");
  }
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag.store(false); }
  } done{deleting_};
  const auto limit = static_cast<size_t>(max_series);
  // A glob walks every series: off the io thread.
  auto found = co_await db_.pool().run(
      [&](pqxx::connection&) { return registry_.select(filter, 0, limit + 1); });
  if (found.size() > limit) {
    deletions_.with({"too_many_series"}).inc();
    throw bad_param("max_series",
                    fmt::format("the selector matches more than {} series; narrow it, or raise "
                                "max_series (at most {})",
                                max_series, kMaxDeleteSeries));
  }
  for (const auto& [id, key] : found)
    d.series.push_back(id);
  std::sort(d.series.begin(), d.series.end());
  const std::string target = selector_text(filter);
  json range = {{"from", optional_ms(d.range.from_ms, DeletionRange::kFirstMs)},
                {"to", optional_ms(d.range.to_ms, DeletionRange::kEndMs)}};
  d.audit = audit_entry(req, "series.delete");
  d.audit.target = target;
  json selector = {{"metric", filter.metric ? *filter.metric : *filter.glob}};
  if (filter.node) selector["node"] = *filter.node;
  if (!filter.labels.empty()) selector["labels"] = body["labels"];
  d.audit.details_json =
      json{{"selector", selector}, {"range", range}, {"max_series", max_series}}.dump();

  std::exception_ptr failure;
  storage::DeletionCounts counts;
  try {
    counts = co_await db_.pool().run([&](pqxx::connection&) { return deleter_.run(d); });
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    std::string why = "unknown exception";
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      why = e.what();
    } catch (...) {
    }
    deletions_.with({"failed"}).inc();
    spdlog::error("series deletion{} of {} ({} series) by {} failed, nothing changed: {}",
                  d.dry_run ? " (dry run)" : "", escape_for_log(target), d.series.size(),
                  escape_for_log(d.audit.token_name), escape_for_log(why));
    if (!d.dry_run) {
      storage::AuditEntry a = d.audit;
      a.outcome = "failed";
      try {
        co_await db_.pool().run([&a](pqxx::connection& c) { storage::insert_audit(c, a); });
      } catch (...) {  // the database is likely what failed; the log has it
      }
    }
    try {
      std::rethrow_exception(failure);
    } catch (const storage::Unavailable&) {
      throw;  // 503: retry later
    } catch (const storage::Overloaded&) {
      throw;
    } catch (...) {
      throw ApiError::internal("the deletion failed and changed nothing; the server log says why");
    }
  }
  deletions_.with({d.dry_run ? "dry_run" : "deleted"}).inc();
  if (!d.dry_run) {
    deleted_samples_.inc(static_cast<double>(counts.samples));
    spdlog::info("series deletion of {} by {}: {} series ({} rows removed), {} samples, {} bytes",
                 escape_for_log(target), escape_for_log(d.audit.token_name), counts.series,
                 counts.series_removed, counts.samples, counts.bytes);
  }
  co_return json_response(
      200, {{"dry_run", d.dry_run},
            {"series", counts.series},
            {"series_removed", counts.series_removed},
            {"samples", counts.samples},
            {"bytes", counts.bytes},
            {"rollup_buckets",
             {{"removed", counts.buckets_removed}, {"recomputed", counts.buckets_recomputed}}},
            {"from", range["from"]},
            {"to", range["to"]}});
}

boost::asio::awaitable<Response> AdminHandlers::cardinality(Request& req) {
  only_params(req, {"limit"});
  const auto limit = static_cast<size_t>(
      int_param(req, "limit", kDefaultCardinalityLimit, 1, kMaxCardinalityLimit));
  if (!db_.ready()) throw ApiError::unavailable(db_.not_ready_reason(), 2);
  // Walks every series (about 15 ms per 100 000, tests/unit/cardinality_test): off the io
  // thread.
  auto r = co_await db_.pool().run(
      [&](pqxx::connection&) { return registry_.cardinality(wall_ms(), limit); });
  json by_metric = json::array(), by_node = json::array(), labels = json::array(),
       growth = json::array();
  for (const auto& c : r.by_metric)
    by_metric.push_back({{"metric", c.name}, {"series", c.series}});
  for (const auto& c : r.by_node)
    by_node.push_back({{"node", c.name}, {"series", c.series}});
  for (const auto& l : r.labels)
    labels.push_back({{"label", l.name}, {"series", l.series}, {"values", l.values}});
  for (const auto& g : r.growth)
    growth.push_back({{"metric", g.metric}, {"last_1h", g.last_1h}, {"last_24h", g.last_24h}});
  co_return json_response(200, {{"series", r.series},
                                {"metrics", r.metrics},
                                {"nodes", r.nodes},
                                {"label_names", r.label_names},
                                {"growing_metrics", r.growing_metrics},
                                {"limit", limit},
                                {"by_metric", by_metric},
                                {"by_node", by_node},
                                {"labels", labels},
                                {"growth", growth}});
}

}  // namespace metricsd::api
