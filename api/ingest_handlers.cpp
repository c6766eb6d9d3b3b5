// Write endpoints; see ingest_handlers.hpp.
#include "api/ingest_handlers.hpp"

#include <fmt/format.h>

#include "api/gzip.hpp"
#include "api/ingest_decode.hpp"
#include "api/json_text.hpp"
#include "api/line_series_cache.hpp"
#include "core/names.hpp"
#include "core/time_parse.hpp"
#include "storage/node_store.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

bool media_type_is(std::string_view header, std::string_view type) {
  auto semi = header.find(';');
  std::string_view t = header.substr(0, semi);
  while (!t.empty() && t.back() == ' ')
    t.remove_suffix(1);
  if (t.size() != type.size()) return false;
  for (size_t i = 0; i < t.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(t[i])) != type[i]) return false;
  return true;
}

ApiError invalid(const Problems& p) {
  std::string msg =
      p.count >= kMaxProblems
          ? fmt::format(
                "request rejected, nothing stored: {} or more problems (the first {} listed)",
                p.count, kMaxProblems)
          : fmt::format("request rejected, nothing stored: {} problem{}", p.count,
                        p.count == 1 ? "" : "s");
  return ApiError::invalid_argument(msg, p.details);
}

}  // namespace

IngestHandlers::IngestHandlers(const Settings& settings, const LiveSettings& live,
                               storage::Database& db, storage::SeriesRegistry& registry,
                               storage::GroupCommitWriter& writer, prom::Registry& metrics)
    : settings_(settings),
      live_(live),
      db_(db),
      registry_(registry),
      writer_(writer),
      accepted_(metrics.counter("metricsd_ingest_samples_total",
                                "Samples acknowledged (committed), by format", {"format"})),
      rejected_requests_(metrics.counter("metricsd_ingest_rejected_requests_total",
                                         "Write requests refused, by reason", {"reason"})),
      rejected_samples_(metrics.counter("metricsd_ingest_rejected_samples_total",
                                        "Samples in refused write requests, by reason",
                                        {"reason"})),
      string_fields_skipped_(metrics
                                 .counter("metricsd_ingest_string_fields_skipped_total",
                                          "Line-protocol string fields skipped (not stored)")
                                 .get()),
      line_cache_lines_(metrics.counter("metricsd_ingest_line_cache_lines_total",
                                        "Line-protocol lines whose series ids came from the "
                                        "per-thread line cache (hit) or were looked up (miss)",
                                        {"result"})),
      line_cache_resets_(metrics
                             .counter("metricsd_ingest_line_cache_resets_total",
                                      "Line caches emptied because they reached "
                                      "ingest.line_cache_mb")
                             .get()),
      heartbeats_(metrics.counter("metricsd_heartbeats_total", "Heartbeats accepted").get()) {}

void IngestHandlers::reject(const char* reason, const Problems& problems, size_t samples) {
  rejected_requests_.with({reason}).inc();
  rejected_samples_.with({reason}).inc(static_cast<double>(std::max(samples, problems.count)));
}

std::string_view IngestHandlers::body_of(Request& req, std::string& inflated) const {
  auto enc = req.header("content-encoding");
  if (!enc || enc->empty() || media_type_is(*enc, "identity")) return req.body;
  if (!media_type_is(*enc, "gzip"))
    throw ApiError(415, "unsupported_media_type",
                   "Content-Encoding " + std::string(*enc) + " is not supported; use gzip or none");
  bool too_large = false;
  std::string err =
      gunzip(req.body, static_cast<size_t>(settings_.http_max_body_bytes), inflated, &too_large);
  if (too_large) throw ApiError(413, "payload_too_large", err);
  if (!err.empty()) throw ApiError::invalid_argument(err, json::array({{{"field", "body"}}}));
  return inflated;
}

void IngestHandlers::check_node_binding(const Request& req, const SampleBatch& batch) const {
  const std::string& bound = req.principal.node_id;
  if (!req.principal.authenticated || req.principal.role != Role::kAgent || bound.empty()) return;
  auto refuse = [&](std::string_view node) {
    throw ApiError::permission_denied("this agent token is bound to node " + bound +
                                      "; it may not write samples of node " + std::string(node));
  };
  for (const auto& key : batch.series)
    if (key.node != bound) refuse(key.node);
  int64_t last = 0;
  for (int64_t id : batch.series_ids) {
    if (id == 0 || id == last) continue;
    last = id;
    auto key = registry_.key(id);
    if (key && key->node != bound) refuse(key->node);
  }
}

boost::asio::awaitable<void> IngestHandlers::store(const Request& req, SampleBatch batch,
                                                   const char* format) {
  size_t n = batch.size();
  if (n == 0) co_return;
  check_node_binding(req, batch);
  if (admit_samples_) admit_samples_(req, n);
  if (!db_.ready()) throw ApiError::unavailable(db_.not_ready_reason(), 2);
  // Series the decoder did not find in the registry: look again (another request may have
  // created them meanwhile), then create the rest on a storage thread.
  std::vector<int64_t> new_ids;
  if (!batch.series.empty()) {
    auto missing = registry_.lookup(batch, new_ids);
    if (!missing.empty()) {
      try {
        co_await db_.pool().run(
            [&](pqxx::connection& c) { registry_.create(c, batch.series, missing, new_ids); });
      } catch (const storage::SeriesLimitExceeded& e) {
        rejected_requests_.with({"series_limit"}).inc();
        rejected_samples_.with({"series_limit"}).inc(static_cast<double>(n));
        throw ApiError::invalid_argument(e.what(), json::array({{{"field", "series"}}}));
      }
    }
  }
  storage::SampleRows rows;
  rows.series_ids = std::move(batch.series_ids);
  for (size_t i = 0; i < n; ++i)
    if (batch.series_index[i] != SampleBatch::kResolved)
      rows.series_ids[i] = new_ids[batch.series_index[i]];
  rows.ts_ms = std::move(batch.ts_ms);
  rows.values = std::move(batch.values);
  try {
    co_await writer_.write(std::move(rows));
  } catch (const storage::Overloaded&) {
    rejected_requests_.with({"overloaded"}).inc();
    rejected_samples_.with({"overloaded"}).inc(static_cast<double>(n));
    throw;
  } catch (const storage::Unavailable&) {
    rejected_requests_.with({"unavailable"}).inc();
    rejected_samples_.with({"unavailable"}).inc(static_cast<double>(n));
    throw;
  }
  accepted_.with({format}).inc(static_cast<double>(n));
}

boost::asio::awaitable<Response> IngestHandlers::write_json(Request& req) {
  if (auto ct = req.header("content-type"); ct && !media_type_is(*ct, "application/json"))
    throw ApiError(415, "unsupported_media_type",
                   "Content-Type must be application/json (line protocol goes to /api/v1/write)");
  std::string inflated;
  std::string_view body = body_of(req, inflated);
  TimeBounds bounds{now_ms(), settings_.ingest_max_future_s * 1000, live_.retention_raw_ms()};
  Problems problems;
  SampleBatch batch;
  {
    auto resolver = registry_.reader();
    batch = decode_metrics_json(body, bounds, problems, &resolver);
  }
  size_t n = batch.size();
  if (!problems.empty()) {
    reject("invalid", problems, n);
    throw invalid(problems);
  }
  co_await store(req, std::move(batch), "json");
  co_return json_response(200, {{"accepted", n}});
}

boost::asio::awaitable<Response> IngestHandlers::write_line_protocol(Request& req) {
  if (auto ct = req.header("content-type");
      ct && (media_type_is(*ct, "application/json") || ct->starts_with("multipart/")))
    throw ApiError(415, "unsupported_media_type",
                   "this endpoint takes InfluxDB line protocol (text/plain); JSON goes to "
                   "/api/v1/metrics");
  Precision precision = Precision::kNanoseconds;
  if (auto p = req.query_param("precision"); p && !parse_precision(*p, precision))
    throw ApiError::invalid_argument("precision must be one of ns, us, ms, s, m, h",
                                     json::array({{{"field", "precision"}}}));
  std::string default_node(req.query_param("node").value_or(""));
  if (!default_node.empty() && !valid_node_id(default_node))
    throw ApiError::invalid_argument("node parameter is not a valid node id",
                                     json::array({{{"field", "node"}}}));
  std::string inflated;
  std::string_view body = body_of(req, inflated);
  TimeBounds bounds{now_ms(), settings_.ingest_max_future_s * 1000, live_.retention_raw_ms()};
  Problems problems;
  LineProtocolStats stats;
  SampleBatch batch;
  {
    auto resolver = registry_.reader();  // shared lock for the decode only
    // One cache per io thread: the decode is synchronous, so nothing else uses it meanwhile.
    thread_local LineSeriesCache cache(static_cast<size_t>(settings_.ingest_line_cache_mb) << 20);
    cache.use_generation(registry_.generation());
    const uint64_t resets = cache.resets();
    batch = decode_line_protocol(body, precision, default_node, bounds, problems, stats, &resolver,
                                 &cache);
    if (cache.resets() != resets)
      line_cache_resets_.inc(static_cast<double>(cache.resets() - resets));
  }
  if (stats.cached_lines)
    line_cache_lines_.with({"hit"}).inc(static_cast<double>(stats.cached_lines));
  if (stats.uncached_lines)
    line_cache_lines_.with({"miss"}).inc(static_cast<double>(stats.uncached_lines));
  if (!problems.empty()) {
    reject("invalid", problems, batch.size());
    throw invalid(problems);
  }
  co_await store(req, std::move(batch), "line_protocol");
  string_fields_skipped_.inc(static_cast<double>(stats.string_fields_skipped));
  Response r;
  r.status = 204;
  r.content_type.clear();
  co_return r;
}

boost::asio::awaitable<Response> IngestHandlers::heartbeat(Request& req) {
  std::string node(req.path_param("node_id"));
  if (!valid_node_id(node))
    throw ApiError::invalid_argument(
        "node id must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}",
        json::array({{{"field", "node_id"}, {"message", "invalid node id"}}}));
  if (auto ct = req.header("content-type"); ct && !media_type_is(*ct, "application/json"))
    throw ApiError(415, "unsupported_media_type", "Content-Type must be application/json");
  std::string inflated;
  std::string_view body = body_of(req, inflated);
  Problems problems;
  if (json_nesting_depth(body) > kMaxJsonDepth) {
    problems.at_field("body", fmt::format("nested deeper than {} levels", kMaxJsonDepth));
    throw invalid(problems);
  }
  json doc = body.empty() ? json::object() : json::parse(body, nullptr, false);
  if (doc.is_discarded()) {
    problems.at_field("body", "not valid JSON: " + json_parse_error(body));
    throw invalid(problems);
  }
  if (!doc.is_object()) {
    problems.at_field("body", "must be a JSON object");
    throw invalid(problems);
  }
  static const std::vector<std::string> kFields = {"type",  "hostname", "labels", "interval_s",
                                                   "state", "info",     "metrics"};
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (std::find(kFields.begin(), kFields.end(), it.key()) == kFields.end())
      problems.at_field(
          it.key(),
          "unknown field (expected type, hostname, labels, interval_s, state, info, metrics)");
  auto text = [&](const char* f) -> std::string {
    if (!doc.contains(f)) return "";
    if (!doc[f].is_string() || doc[f].get_ref<const std::string&>().size() > 256 ||
        !valid_text(doc[f].get_ref<const std::string&>())) {
      problems.at_field(f, "must be a string of at most 256 bytes without NUL");
      return "";
    }
    return doc[f].get<std::string>();
  };
  auto object = [&](const char* f) -> std::string {
    if (!doc.contains(f)) return "{}";
    if (!doc[f].is_object()) {
      problems.at_field(f, "must be an object");
      return "{}";
    }
    if (auto at = find_nul_string(doc[f], f)) {
      problems.at_field(*at, "holds a NUL character (\\u0000), which cannot be stored");
      return "{}";
    }
    std::string s = doc[f].dump(-1, ' ', false, json::error_handler_t::replace);
    if (s.size() > 65536) problems.at_field(f, "larger than 64 KiB");
    return s;
  };
  std::string type = text("type"), hostname = text("hostname");
  std::string labels = object("labels"), state = object("state"), info = object("info");
  if (doc.contains("labels") && doc["labels"].is_object()) {
    LabelSet ls;
    for (auto it = doc["labels"].begin(); it != doc["labels"].end(); ++it) {
      if (!it.value().is_string())
        problems.at_field("labels." + it.key(), "must be a string");
      else if (!valid_label_key(it.key()))
        problems.at_field("labels." + it.key(), "label key must match [A-Za-z_][A-Za-z0-9_]{0,63}");
      else if (!valid_label_value(it.value().get_ref<const std::string&>()))
        problems.at_field("labels." + it.key(),
                          "label value must be UTF-8 without NUL, at most 1024 bytes");
    }
  }
  std::optional<double> interval;
  if (doc.contains("interval_s")) {
    if (!doc["interval_s"].is_number() || doc["interval_s"].get<double>() <= 0 ||
        doc["interval_s"].get<double>() > 86400)
      problems.at_field("interval_s", "must be a number of seconds in (0, 86400]");
    else
      interval = doc["interval_s"].get<double>();
  }
  int64_t now = now_ms();
  SampleBatchBuilder builder;
  if (doc.contains("metrics"))
    decode_metrics_map(doc["metrics"], node, now, "metrics", builder, problems);
  if (!problems.empty()) {
    reject("invalid", problems, builder.samples());
    throw invalid(problems);
  }
  co_await store(req, builder.take(), "heartbeat");
  if (!db_.ready()) throw ApiError::unavailable(db_.not_ready_reason(), 2);
  json commands = json::array();
  storage::HeartbeatUpdate update{node,
                                  doc.contains("type") ? std::optional(type) : std::nullopt,
                                  doc.contains("hostname") ? std::optional(hostname) : std::nullopt,
                                  doc.contains("labels") ? std::optional(labels) : std::nullopt,
                                  doc.contains("state") ? std::optional(state) : std::nullopt,
                                  doc.contains("info") ? std::optional(info) : std::nullopt,
                                  interval};
  std::string previous;
  auto pending = co_await db_.pool().run(
      [&](pqxx::connection& c) { return storage::record_heartbeat(c, update, &previous); });
  if (previous != "online" && node_online_)
    node_online_(node, previous.empty() ? "new" : previous, now);
  for (const auto& cmd : pending)
    commands.push_back({{"id", cmd.id},
                        {"type", cmd.type},
                        {"args", json::parse(cmd.args_json, nullptr, false)},
                        {"created_at", format_rfc3339_ms(cmd.created_ms)}});
  heartbeats_.inc();
  co_return json_response(200,
                          {{"server_time", format_rfc3339_ms(now_ms())}, {"commands", commands}});
}

}  // namespace metricsd::api
