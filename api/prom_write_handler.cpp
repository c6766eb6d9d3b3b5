// POST /api/v1/prom/write: Prometheus remote write 1.0 (a snappy-compressed protobuf
// WriteRequest), the IngestHandlers member that serves it; see ingest_handlers.hpp.
//
// Prometheus retries a batch on 5xx and drops it on 4xx, so a 4xx answers only what can
// never succeed (a body that is no snappy WriteRequest, a wrong media type, auth); overload
// and a lost database stay 503. Series or samples that cannot be stored are left out and
// counted while the rest is stored (api/prom_remote_write.hpp says why).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <string>

#include "api/ingest_handlers.hpp"
#include "api/json_text.hpp"
#include "api/prom_remote_write.hpp"
#include "core/clock.hpp"
#include "core/log_escape.hpp"
#include "core/names.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

// At most one log line a minute about left-out series: Prometheus sends the same bad series
// every few seconds, and /metrics counts each of them anyway.
constexpr int64_t kRefusalLogIntervalMs = 60'000;

// The media type of a Content-Type or Content-Encoding value, lower case, without
// parameters.
std::string media_type(std::string_view header) {
  std::string t(header.substr(0, header.find(';')));
  while (!t.empty() && t.back() == ' ')
    t.pop_back();
  for (char& c : t)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

// The value of parameter `name` in a Content-Type ("…; proto=x" → "x"), or "".
std::string_view media_param(std::string_view header, std::string_view name) {
  for (size_t semi = header.find(';'); semi != std::string_view::npos;
       semi = header.find(';', semi + 1)) {
    std::string_view p = header.substr(semi + 1);
    p = p.substr(0, p.find(';'));
    while (!p.empty() && p.front() == ' ')
      p.remove_prefix(1);
    if (p.size() > name.size() && p.starts_with(name) && p[name.size()] == '=') {
      p.remove_prefix(name.size() + 1);
      while (!p.empty() && p.back() == ' ')
        p.remove_suffix(1);
      return p;
    }
  }
  return {};
}

ApiError unsupported(std::string message) {
  return ApiError(415, "unsupported_media_type", std::move(message));
}

}  // namespace

boost::asio::awaitable<Response> IngestHandlers::write_prometheus(Request& req) {
  // Every refusal before the service is counted here, once.
  auto refused = [this](ApiError e) {
    service_.count_rejected("invalid", 0);
    return e;
  };
  auto ct = req.header("content-type");
  if (!ct || media_type(*ct) != "application/x-protobuf")
    throw refused(unsupported(
        "Content-Type must be application/x-protobuf (Prometheus remote write 1.0); JSON goes "
        "to /api/v1/metrics, line protocol to /api/v1/write"));
  // Remote write 2.0 names its message here (io.prometheus.write.v2.Request).
  if (auto proto = media_param(*ct, "proto"); !proto.empty() && proto != "prometheus.WriteRequest")
    throw refused(unsupported(fmt::format(
        "proto={} is not supported; this endpoint takes remote write 1.0 (prometheus.WriteRequest)",
        escape_for_log(proto))));
  auto enc = req.header("content-encoding");
  if (!enc || media_type(*enc) != "snappy")
    throw refused(unsupported("Content-Encoding must be snappy (block format)"));
  if (auto v = req.header("x-prometheus-remote-write-version"); v && !v->starts_with("0."))
    throw refused(unsupported(fmt::format(
        "X-Prometheus-Remote-Write-Version {} is not supported; this endpoint takes 0.1.0",
        escape_for_log(*v))));
  std::string default_node(req.query_param("node").value_or(""));
  if (!default_node.empty() && !valid_node_id(default_node))
    throw refused(ApiError::invalid_argument("node parameter is not a valid node id",
                                             json::array({{{"field", "node"}}})));

  PromWriteResult result;
  {
    std::string message;
    bool too_large = false;
    std::string err = snappy_uncompress(
        req.body, static_cast<size_t>(settings_.http_max_body_bytes), message, &too_large);
    if (too_large) throw refused(ApiError(413, "payload_too_large", err));
    if (!err.empty())
      throw refused(ApiError::invalid_argument(err, json::array({{{"field", "body"}}})));
    PromWriteOptions options{
        settings_.ingest_prometheus_node_label,
        default_node,
        {wall_ms(), settings_.ingest_max_future_s * 1000, live_.retention_raw_ms()}};
    auto resolver = registry_.reader();  // shared lock for the decode only
    err = decode_prom_write(message, options, result, &resolver);
    if (!err.empty())
      throw refused(ApiError::invalid_argument(err, json::array({{{"field", "body"}}})));
  }  // the decompressed body is given back before the commit wait

  // Counted once stored: a retried request (503) is not counted twice.
  const size_t n = result.batch.size();
  authorize_samples(req, result.batch);
  co_await service_.write(std::move(result.batch), "prometheus");
  size_t left_out = 0;
  for (size_t r = 0; r < result.skipped.size(); ++r) {
    if (!result.skipped[r]) continue;
    prom_skipped_.with({std::string(prom_skip_name(static_cast<PromSkip>(r)))})
        .inc(static_cast<double>(result.skipped[r]));
    if (static_cast<PromSkip>(r) != PromSkip::kStaleMarker) left_out += result.skipped[r];
  }
  if (!result.refused.empty()) {
    const int64_t now = wall_ms();
    int64_t last = prom_refusal_logged_ms_.load(std::memory_order_relaxed);
    if (now - last >= kRefusalLogIntervalMs &&
        prom_refusal_logged_ms_.compare_exchange_strong(last, now, std::memory_order_relaxed))
      spdlog::warn(
          "prometheus remote write from {} (token \"{}\"): {} samples of {} series left out, "
          "e.g. {}: {} (counted in metricsd_ingest_prometheus_samples_skipped_total; this "
          "message at most once a minute)",
          req.remote_addr, escape_for_log(req.principal.token_name), left_out, result.series,
          escape_for_log(result.refused.details[0].value("field", "")),
          escape_for_log(result.refused.details[0].value("message", "")));
  }
  if (result.refused.empty()) {
    Response r;
    r.status = 204;
    r.content_type.clear();
    co_return r;
  }
  co_return json_response(
      200,
      {{"accepted", n}, {"refused", left_out}, {"details", std::move(result.refused.details)}});
}

}  // namespace metricsd::api
