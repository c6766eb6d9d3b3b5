// Ingest decoding and validation; see ingest_decode.hpp.
#include "api/ingest_decode.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>

#include "api/json_text.hpp"
#include "api/line_series_cache.hpp"
#include "core/names.hpp"
#include "core/time_parse.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

// Validates labels (count, keys, values, duplicates); returns the first problem or "".
std::string check_labels(const LabelSet& labels) {
  if (labels.size() > kMaxLabels)
    return fmt::format("{} labels; at most {} are allowed", labels.size(), kMaxLabels);
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto& [k, v] = labels[i];
    if (!valid_label_key(k))
      return fmt::format("label key \"{}\" must match [A-Za-z_][A-Za-z0-9_]{{0,63}}", k);
    if (!valid_label_value(v))
      return fmt::format("value of label \"{}\" must be UTF-8 without NUL, at most {} bytes", k,
                         kMaxLabelValueBytes);
    if (i > 0 && labels[i - 1].first == k) return fmt::format("label \"{}\" appears twice", k);
  }
  return {};
}

std::string check_metric(std::string_view m) {
  if (valid_metric_name(m)) return {};
  return fmt::format("metric name \"{}\" must match [A-Za-z_][A-Za-z0-9_.:-]{{0,199}}",
                     std::string(m.substr(0, 240)));
}

std::string check_node(std::string_view n) {
  if (valid_node_id(n)) return {};
  return fmt::format("node id \"{}\" must match [A-Za-z0-9][A-Za-z0-9._:-]{{0,127}}",
                     std::string(n.substr(0, 160)));
}

}  // namespace

std::optional<int64_t> json_time(const json& v) {
  if (v.is_number()) return seconds_to_ms(v.get<double>());
  if (v.is_string()) return parse_rfc3339_ms(v.get_ref<const std::string&>());
  return std::nullopt;
}

void Problems::at_line(size_t line, std::string message) {
  if (count++ < kMaxProblems) details.push_back({{"line", line}, {"message", std::move(message)}});
}

void Problems::at_field(std::string field, std::string message) {
  if (count++ < kMaxProblems)
    details.push_back({{"field", std::move(field)}, {"message", std::move(message)}});
}

std::string TimeBounds::check(int64_t ts) const {
  if (ts > now_ms + max_future_ms)
    return fmt::format("timestamp {} is more than ingest.max_future_s ({} s) in the future",
                       format_rfc3339_ms(ts), max_future_ms / 1000);
  if (ts < now_ms - retention_ms)
    return fmt::format("timestamp {} is older than the raw retention ({} days)",
                       format_rfc3339_ms(ts), retention_ms / 86'400'000);
  return {};
}

namespace {

// A line whose series text the cache holds: its samples by the remembered ids. False
// (nothing added) when a field key is not among them; the caller then takes the long way.
bool add_cached_line(const LpPoint& pt, const LineSeriesCache::Fields& known, int64_t ts,
                     std::vector<int64_t>& ids, SampleBatchBuilder& out, LineProtocolStats& stats) {
  ids.clear();
  size_t strings = 0, next = 0;
  for (size_t i = 0; i < pt.n_fields; ++i) {
    const LpField& f = pt.fields[i];
    if (f.kind == LpField::Kind::kString) {
      ++strings;
      continue;
    }
    // Agents send the same fields in the same order: try the next one first.
    if (next < known.size() && known[next].first == f.key) {
      ids.push_back(known[next++].second);
      continue;
    }
    auto it =
        std::find_if(known.begin(), known.end(), [&](const auto& k) { return k.first == f.key; });
    if (it == known.end()) return false;
    ids.push_back(it->second);
    next = static_cast<size_t>(it - known.begin()) + 1;
  }
  stats.string_fields_skipped += strings;
  size_t j = 0;
  for (size_t i = 0; i < pt.n_fields; ++i)
    if (pt.fields[i].kind != LpField::Kind::kString)
      out.add({SampleBatch::kResolved, ids[j++]}, ts, pt.fields[i].value);
  return true;
}

}  // namespace

SampleBatch decode_line_protocol(std::string_view body, Precision precision,
                                 std::string_view default_node, const TimeBounds& bounds,
                                 Problems& problems, LineProtocolStats& stats,
                                 const SeriesResolver* resolver, LineSeriesCache* cache) {
  SampleBatchBuilder out(resolver);
  LineProtocolReader reader(body);
  LpPoint pt;
  std::string error;
  LabelSet labels;
  std::string prefix, metric, key;  // reused across lines
  LineSeriesCache::Fields resolved;
  std::vector<int64_t> cached_ids;
  if (cache && (!resolver || !cache->enabled())) cache = nullptr;
  while (!problems.full() && reader.next(pt, &error)) {
    size_t line = reader.line();
    if (!error.empty()) {
      problems.at_line(line, error);
      continue;
    }
    // The time first: it needs neither node nor labels, and a cached line checks it too.
    int64_t ts = bounds.now_ms;
    std::string ts_problem;  // empty: the time is fine
    if (pt.has_timestamp && !timestamp_to_ms(pt.timestamp, precision, ts))
      ts_problem = "timestamp out of range for the precision";
    else
      ts_problem = bounds.check(ts);
    if (cache) {
      LineSeriesCache::make_key(key, default_node, pt.series_text);
      if (const auto* known = cache->find(key)) {
        if (!ts_problem.empty()) {
          problems.at_line(line, std::move(ts_problem));
          ++stats.cached_lines;
          continue;
        }
        if (add_cached_line(pt, *known, ts, cached_ids, out, stats)) {
          ++stats.cached_lines;
          continue;
        }
      }
    }
    if (cache) ++stats.uncached_lines;
    // The node: tag `node`, else `host`, else the request's default.
    const LpTag* node_tag = nullptr;
    for (size_t i = 0; i < pt.n_tags; ++i)
      if (pt.tags[i].key == "node") node_tag = &pt.tags[i];
    if (!node_tag)
      for (size_t i = 0; i < pt.n_tags; ++i)
        if (pt.tags[i].key == "host") node_tag = &pt.tags[i];
    // A second tag of the node's key would otherwise slip in as a label of that name.
    if (node_tag && std::count_if(pt.tags.begin(), pt.tags.begin() + pt.n_tags,
                                  [&](const LpTag& t) { return t.key == node_tag->key; }) > 1) {
      problems.at_line(line, fmt::format("tag \"{}\" appears twice", node_tag->key));
      continue;
    }
    std::string node = node_tag ? node_tag->value : std::string(default_node);
    if (node.empty()) {
      problems.at_line(line, "no node: add a `node` (or `host`) tag, or ?node= to the URL");
      continue;
    }
    if (auto e = check_node(node); !e.empty()) {
      problems.at_line(line, e);
      continue;
    }
    labels.clear();
    for (size_t i = 0; i < pt.n_tags; ++i)
      if (&pt.tags[i] != node_tag)
        labels.emplace_back(sanitize_label_key(pt.tags[i].key), pt.tags[i].value);
    std::sort(labels.begin(), labels.end());
    if (auto e = check_labels(labels); !e.empty()) {
      problems.at_line(line, e);
      continue;
    }
    if (!ts_problem.empty()) {
      problems.at_line(line, std::move(ts_problem));
      continue;
    }
    prefix = sanitize_metric_name(pt.measurement);
    prefix += '.';
    resolved.clear();
    bool all_known = true;
    for (size_t i = 0; i < pt.n_fields; ++i) {
      const LpField& f = pt.fields[i];
      if (f.kind == LpField::Kind::kString) {
        ++stats.string_fields_skipped;
        continue;
      }
      // Both parts are sanitised, so only the length can still be wrong.
      metric.assign(prefix);
      if (valid_metric_name(f.key))
        metric += f.key;
      else
        metric += sanitize_metric_name(f.key);
      if (metric.size() > kMaxMetricBytes) {
        problems.at_line(line, check_metric(metric));
        all_known = false;
        break;
      }
      auto ref = out.series(metric, node, labels);
      out.add(ref, ts, f.value);
      if (ref.index != SampleBatch::kResolved) all_known = false;
      if (all_known && cache) resolved.emplace_back(f.key, ref.id);
    }
    if (cache && all_known && !resolved.empty()) cache->remember(key, resolved);
  }
  return out.take();
}

void decode_metrics_map(const json& metrics, const std::string& node, int64_t ts,
                        const std::string& field_prefix, SampleBatchBuilder& out,
                        Problems& problems) {
  if (!metrics.is_object()) {
    problems.at_field(field_prefix, "must be an object of metric name to number");
    return;
  }
  for (auto it = metrics.begin(); it != metrics.end() && !problems.full(); ++it) {
    std::string field = field_prefix + "." + it.key();
    if (auto e = check_metric(it.key()); !e.empty()) {
      problems.at_field(field, e);
      continue;
    }
    if (!it.value().is_number() || !std::isfinite(it.value().get<double>())) {
      problems.at_field(field, "value must be a finite number");
      continue;
    }
    static const LabelSet kNoLabels;
    out.add(out.series(it.key(), node, kNoLabels), ts, it.value().get<double>());
  }
}

SampleBatch decode_metrics_json(std::string_view body, const TimeBounds& bounds, Problems& problems,
                                const SeriesResolver* resolver) {
  SampleBatchBuilder out(resolver);
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) {
    problems.at_field("body", "not valid JSON: " + json_parse_error(body));
    return out.take();
  }
  if (!doc.is_object()) {
    problems.at_field("body", "must be a JSON object with `samples` and/or `metrics`");
    return out.take();
  }
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (it.key() != "node" && it.key() != "ts" && it.key() != "samples" && it.key() != "metrics")
      problems.at_field(it.key(), "unknown field (expected node, ts, samples, metrics)");
  std::string default_node;
  if (doc.contains("node")) {
    if (!doc["node"].is_string()) {
      problems.at_field("node", "must be a string");
    } else {
      default_node = doc["node"].get<std::string>();
      if (auto e = check_node(default_node); !e.empty()) problems.at_field("node", e);
    }
  }
  int64_t default_ts = bounds.now_ms;
  if (doc.contains("ts")) {
    auto t = json_time(doc["ts"]);
    if (!t)
      problems.at_field("ts", "must be an RFC 3339 string or unix seconds");
    else if (auto e = bounds.check(*t); !e.empty())
      problems.at_field("ts", e);
    else
      default_ts = *t;
  }
  if (!doc.contains("samples") && !doc.contains("metrics"))
    problems.at_field("body", "nothing to store: give `samples` and/or `metrics`");
  if (doc.contains("samples")) {
    const json& samples = doc["samples"];
    if (!samples.is_array()) problems.at_field("samples", "must be an array");
    for (size_t i = 0; samples.is_array() && i < samples.size() && !problems.full(); ++i) {
      const json& s = samples[i];
      std::string where = fmt::format("samples[{}]", i);
      if (!s.is_object()) {
        problems.at_field(where, "must be an object");
        continue;
      }
      bool ok = true;
      auto bad = [&](const std::string& field, std::string msg) {
        problems.at_field(where + "." + field, std::move(msg));
        ok = false;
      };
      for (auto it = s.begin(); it != s.end(); ++it)
        if (it.key() != "metric" && it.key() != "value" && it.key() != "labels" &&
            it.key() != "ts" && it.key() != "node")
          bad(it.key(), "unknown field (expected metric, value, labels, ts, node)");
      std::string metric;
      if (!s.contains("metric") || !s["metric"].is_string()) {
        bad("metric", "required, a string");
      } else {
        metric = s["metric"].get<std::string>();
        if (auto e = check_metric(metric); !e.empty()) bad("metric", e);
      }
      double value = 0;
      if (!s.contains("value") || !s["value"].is_number()) {
        bad("value", "required, a finite number");
      } else {
        value = s["value"].get<double>();
        if (!std::isfinite(value)) bad("value", "must be finite");
      }
      std::string node = default_node;
      if (s.contains("node")) {
        if (!s["node"].is_string()) {
          bad("node", "must be a string");
        } else {
          node = s["node"].get<std::string>();
          if (auto e = check_node(node); !e.empty()) bad("node", e);
        }
      } else if (node.empty()) {
        bad("node", "required here or at the top level");
      }
      int64_t ts = default_ts;
      if (s.contains("ts")) {
        auto t = json_time(s["ts"]);
        if (!t)
          bad("ts", "must be an RFC 3339 string or unix seconds");
        else if (auto e = bounds.check(*t); !e.empty())
          bad("ts", e);
        else
          ts = *t;
      }
      LabelSet labels;
      if (s.contains("labels")) {
        if (!s["labels"].is_object()) {
          bad("labels", "must be an object of string values");
        } else {
          for (auto it = s["labels"].begin(); it != s["labels"].end(); ++it) {
            if (!it.value().is_string()) {
              bad("labels." + it.key(), "must be a string");
              continue;
            }
            labels.emplace_back(it.key(), it.value().get<std::string>());
          }
          std::sort(labels.begin(), labels.end());
          if (auto e = check_labels(labels); !e.empty()) bad("labels", e);
        }
      }
      if (ok) out.add(out.series(metric, node, labels), ts, value);
    }
  }
  if (doc.contains("metrics")) {
    if (default_node.empty()) {
      problems.at_field("node", "required with `metrics`");
    } else {
      decode_metrics_map(doc["metrics"], default_node, default_ts, "metrics", out, problems);
    }
  }
  return out.take();
}

}  // namespace metricsd::api
