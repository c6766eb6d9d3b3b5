// Prometheus remote write decoding; see prom_remote_write.hpp.
#include "api/prom_remote_write.hpp"

#include <fmt/format.h>
#include <snappy.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <optional>

#include "api/prom_remote_write.pb.h"
#include "core/names.hpp"

namespace metricsd::api {
namespace {

// Prometheus' stale marker: a NaN with this exact bit pattern (value.StaleNaN).
constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;

constexpr std::string_view kSkipNames[] = {"stale_marker",   "no_node",        "invalid_node",
                                           "invalid_metric", "invalid_labels", "not_finite",
                                           "out_of_bounds"};
static_assert(std::size(kSkipNames) == static_cast<size_t>(PromSkip::kCount));

std::string clip(std::string_view s) {
  return std::string(s.substr(0, 160));
}

// The series' labels other than __name__ and the node's, sorted; "" or why they break the
// rules. Empty values are dropped: Prometheus treats a label with an empty value as absent.
std::string collect_labels(const promrw::TimeSeries& ts, std::string_view node_label,
                           LabelSet& labels) {
  labels.clear();
  for (const auto& l : ts.labels()) {
    if (l.name() == "__name__" || l.name() == node_label || l.value().empty()) continue;
    if (!valid_label_key(l.name()))
      return fmt::format("label name \"{}\" must match [A-Za-z_][A-Za-z0-9_]{{0,63}}",
                         clip(l.name()));
    if (!valid_label_value(l.value()))
      return fmt::format("value of label \"{}\" must be UTF-8 without NUL, at most {} bytes",
                         l.name(), kMaxLabelValueBytes);
    labels.emplace_back(l.name(), l.value());
  }
  if (labels.size() > kMaxLabels)
    return fmt::format("{} labels; at most {} are allowed", labels.size(), kMaxLabels);
  std::sort(labels.begin(), labels.end());
  for (size_t i = 1; i < labels.size(); ++i)
    if (labels[i - 1].first == labels[i].first)
      return fmt::format("label \"{}\" appears twice", labels[i].first);
  return {};
}

}  // namespace

std::string_view prom_skip_name(PromSkip reason) {
  return kSkipNames[static_cast<size_t>(reason)];
}

std::string snappy_uncompress(std::string_view block, size_t max_bytes, std::string& out,
                              bool* too_large) {
  *too_large = false;
  size_t length = 0;
  if (!snappy::GetUncompressedLength(block.data(), block.size(), &length))
    return "body is not a snappy block (Content-Encoding: snappy, block format)";
  if (length > max_bytes) {
    *too_large = true;
    return fmt::format("body decompresses to {} bytes; http.max_body_bytes allows {}", length,
                       max_bytes);
  }
  out.resize(length);
  if (!snappy::RawUncompress(block.data(), block.size(), out.data()))
    return "body is not a valid snappy block (corrupt or truncated)";
  return {};
}

std::string decode_prom_write(std::string_view message, const PromWriteOptions& options,
                              PromWriteResult& out, const SeriesResolver* resolver) {
  if (message.size() > static_cast<size_t>(INT_MAX))
    return "body is larger than a protobuf message may be (2 GiB)";
  promrw::WriteRequest req;
  if (!req.ParseFromArray(message.data(), static_cast<int>(message.size())))
    return "body is not a remote write WriteRequest (protobuf did not parse)";
  SampleBatchBuilder builder(resolver);
  LabelSet labels;
  out.series = static_cast<size_t>(req.timeseries_size());
  auto skip = [&](PromSkip why, size_t samples) {
    out.skipped[static_cast<size_t>(why)] += samples;
  };
  for (int i = 0; i < req.timeseries_size(); ++i) {
    const promrw::TimeSeries& ts = req.timeseries(i);
    const size_t n = static_cast<size_t>(ts.samples_size());
    if (n == 0) continue;
    std::string_view metric, node;
    for (const auto& l : ts.labels()) {
      if (l.name() == "__name__") metric = l.value();
      if (l.name() == options.node_label) node = l.value();
    }
    std::string where = fmt::format("timeseries[{}]", i);
    auto refuse = [&](PromSkip why, std::string message) {
      skip(why, n);
      out.refused.at_field(where, std::move(message));
    };
    if (!valid_metric_name(metric)) {
      refuse(PromSkip::kInvalidMetric, metric.empty()
                                           ? std::string("no __name__ label")
                                           : fmt::format("metric name \"{}\" must match "
                                                         "[A-Za-z_][A-Za-z0-9_.:-]{{0,199}}",
                                                         clip(metric)));
      continue;
    }
    where += fmt::format(" ({})", metric);
    if (node.empty()) node = options.default_node;
    if (node.empty()) {
      refuse(PromSkip::kNoNode,
             fmt::format("no node: no \"{}\" label (ingest.prometheus_node_label) and no ?node= "
                         "in the URL",
                         options.node_label));
      continue;
    }
    if (!valid_node_id(node)) {
      refuse(PromSkip::kInvalidNode,
             fmt::format("node \"{}\" must match [A-Za-z0-9][A-Za-z0-9._:-]{{0,127}}", clip(node)));
      continue;
    }
    if (auto e = collect_labels(ts, options.node_label, labels); !e.empty()) {
      refuse(PromSkip::kInvalidLabels, std::move(e));
      continue;
    }
    // Resolved at the first sample kept: a series of stale markers only creates nothing.
    std::optional<SampleBatchBuilder::Ref> ref;
    for (int j = 0; j < ts.samples_size(); ++j) {
      const promrw::Sample& s = ts.samples(j);
      const double v = s.value();
      if (std::bit_cast<uint64_t>(v) == kStaleNaNBits) {
        skip(PromSkip::kStaleMarker, 1);
        continue;
      }
      if (!std::isfinite(v)) {
        skip(PromSkip::kNotFinite, 1);
        out.refused.at_field(fmt::format("{}.samples[{}]", where, j), "value is not finite");
        continue;
      }
      if (auto e = options.bounds.check(s.timestamp()); !e.empty()) {
        skip(PromSkip::kOutOfBounds, 1);
        out.refused.at_field(fmt::format("{}.samples[{}]", where, j), std::move(e));
        continue;
      }
      if (!ref) ref = builder.series(metric, node, labels);
      builder.add(*ref, s.timestamp(), v);
    }
  }
  out.batch = builder.take();
  return {};
}

}  // namespace metricsd::api
