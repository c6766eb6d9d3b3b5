// Write endpoints; see ingest_handlers.hpp.
#include "api/ingest_handlers.hpp"

#include <fmt/format.h>

#include "api/gzip.hpp"
#include "api/heartbeat_decode.hpp"
#include "api/ingest_decode.hpp"
#include "api/json_text.hpp"
#include "api/line_series_cache.hpp"
#include "core/clock.hpp"
#include "core/names.hpp"
#include "core/time_parse.hpp"

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

}  // namespace

IngestHandlers::IngestHandlers(const Settings& settings, const LiveSettings& live,
                               storage::SeriesRegistry& registry, ingest::IngestService& service,
                               Authorizer& auth, prom::Registry& metrics)
    : settings_(settings),
      live_(live),
      registry_(registry),
      service_(service),
      auth_(auth),
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
      prom_skipped_(metrics.counter("metricsd_ingest_prometheus_samples_skipped_total",
                                    "Prometheus remote-write samples not stored while the rest "
                                    "of their request was, by reason",
                                    {"reason"})) {}

ApiError IngestHandlers::invalid(const Problems& p, size_t samples) {
  service_.count_rejected("invalid", std::max(samples, p.count));
  std::string msg =
      p.count >= kMaxProblems
          ? fmt::format(
                "request rejected, nothing stored: {} or more problems (the first {} listed)",
                p.count, kMaxProblems)
          : fmt::format("request rejected, nothing stored: {} problem{}", p.count,
                        p.count == 1 ? "" : "s");
  return ApiError::invalid_argument(msg, p.details);
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

void IngestHandlers::authorize_samples(const Request& req, const SampleBatch& batch) {
  if (batch.size() == 0) return;
  if (req.principal.role == Role::kAgent && !req.principal.node_id.empty())
    for (const auto& node : service_.nodes_of(batch))
      auth_.require_node(req, node);
  auth_.charge_samples(req, batch.size());
}

boost::asio::awaitable<Response> IngestHandlers::write_json(Request& req) {
  if (auto ct = req.header("content-type"); ct && !media_type_is(*ct, "application/json"))
    throw ApiError(415, "unsupported_media_type",
                   "Content-Type must be application/json (line protocol goes to /api/v1/write)");
  std::string inflated;
  std::string_view body = body_of(req, inflated);
  TimeBounds bounds{wall_ms(), settings_.ingest_max_future_s * 1000, live_.retention_raw_ms()};
  Problems problems;
  SampleBatch batch;
  {
    auto resolver = registry_.reader();
    batch = decode_metrics_json(body, bounds, problems, &resolver);
  }
  size_t n = batch.size();
  if (!problems.empty()) throw invalid(problems, n);
  authorize_samples(req, batch);
  co_await service_.write(std::move(batch), "json");
  co_return json_response(200, {{"accepted", n}});
}

boost::asio::awaitable<Response> IngestHandlers::write_line_protocol(Request& req) {
  if (auto ct = req.header("content-type");
      ct && (media_type_is(*ct, "application/json") || ct->starts_with("multipart/")))
    throw ApiError(415, "unsupported_media_type",
                   "this endpoint takes InfluxDB line protocol (text/plain); JSON goes to "
                   "/api/v1/metrics");
  Precision precision = Precision::kNanoseconds;
  if (auto p = req.query_param("precision"); p && !parse_precision(*p, precision)) {
    service_.count_rejected("invalid", 0);
    throw ApiError::invalid_argument(
        "precision must be one of ns (or n), us (or u, µ, µs), ms, s, m, h",
        json::array({{{"field", "precision"}}}));
  }
  std::string default_node(req.query_param("node").value_or(""));
  if (!default_node.empty() && !valid_node_id(default_node)) {
    service_.count_rejected("invalid", 0);
    throw ApiError::invalid_argument("node parameter is not a valid node id",
                                     json::array({{{"field", "node"}}}));
  }
  std::string inflated;
  std::string_view body = body_of(req, inflated);
  TimeBounds bounds{wall_ms(), settings_.ingest_max_future_s * 1000, live_.retention_raw_ms()};
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
  if (!problems.empty()) throw invalid(problems, batch.size());
  authorize_samples(req, batch);
  co_await service_.write(std::move(batch), "line_protocol");
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
  const int64_t now = wall_ms();
  // Events' times are held to the samples' bounds.
  TimeBounds bounds{now, settings_.ingest_max_future_s * 1000, live_.retention_raw_ms()};
  Problems problems;
  DecodedHeartbeat hb = decode_heartbeat(body, node, bounds, problems);
  if (!problems.empty()) throw invalid(problems, hb.samples.size());
  authorize_samples(req, hb.samples);
  auto& f = hb.fields;
  storage::HeartbeatUpdate update{node,
                                  std::move(f.type),
                                  std::move(f.hostname),
                                  std::move(f.labels_json),
                                  std::move(f.state_json),
                                  std::move(f.info_json),
                                  f.interval_s,
                                  std::move(hb.events)};
  auto done = co_await service_.heartbeat(std::move(update), std::move(hb.samples), now);
  json commands = json::array();
  for (const auto& cmd : done.commands)
    commands.push_back({{"id", cmd.id},
                        {"type", cmd.type},
                        {"args", json::parse(cmd.args_json, nullptr, false)},
                        {"created_at", format_rfc3339_ms(cmd.created_ms)}});
  co_return json_response(200,
                          {{"server_time", format_rfc3339_ms(wall_ms())}, {"commands", commands}});
}

}  // namespace metricsd::api
