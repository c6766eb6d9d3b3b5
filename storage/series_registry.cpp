// The series registry; see series_registry.hpp.
#include "storage/series_registry.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/compaction.hpp"
#include "core/names.hpp"

namespace metricsd::storage {
namespace {

constexpr const char* kLoadAll =
    "SELECT series_id, metric, node_id, labels::text, "
    "(extract(epoch FROM created_at) * 1000)::bigint FROM series";
// A node first seen through its samples is registered here, with the same event a first
// heartbeat records (the heartbeat stores its samples first, so it then finds the row).
constexpr const char* kUpsertNode =
    "WITH n AS (INSERT INTO nodes (node_id) VALUES ($1) ON CONFLICT (node_id) DO NOTHING "
    "RETURNING node_id) "
    "INSERT INTO events (node_id, type, data) "
    "SELECT node_id, 'node_registered', '{\"from\": \"new\", \"to\": \"online\"}' FROM n";
// The no-op update makes RETURNING yield the id whether the row is new or not (another
// daemon may have created it).
constexpr const char* kUpsertSeries =
    "INSERT INTO series (metric, category, node_id, labels, labels_key) "
    "VALUES ($1, $2, $3, $4::jsonb, $4) "
    "ON CONFLICT (metric, node_id, labels_key) DO UPDATE SET metric = EXCLUDED.metric "
    "RETURNING series_id, (extract(epoch FROM created_at) * 1000)::bigint";

// Registry generations are drawn from one counter, so no two registries share one.
uint64_t next_generation() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

LabelSet labels_from_json(const std::string& text) {
  LabelSet out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object())
    for (auto it = j.begin(); it != j.end(); ++it)
      out.emplace_back(it.key(),
                       it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  return out;  // nlohmann's object iterates in key order: already sorted
}

}  // namespace

SeriesRegistry::SeriesRegistry(int64_t max_series, int64_t max_series_per_node,
                               prom::Registry& metrics)
    : max_series_(max_series),
      max_per_node_(max_series_per_node),
      created_(metrics.counter("metricsd_series_created_total", "Series created").get()),
      generation_(next_generation()) {
  metrics.gauge_fn("metricsd_series", "Series known to this daemon",
                   [this] { return static_cast<double>(size()); });
}

void SeriesRegistry::load(pqxx::connection& c) {
  boost::unordered_flat_map<std::string, int64_t> ids;
  std::unordered_map<std::string, int64_t> per_node;
  std::map<int64_t, SeriesKey> keys;
  std::deque<std::pair<int64_t, int64_t>> recent;
  const int64_t day_ago = wall_ms() - kDayMs;
  pqxx::nontransaction tx(c);
  for (const auto& row : tx.exec(kLoadAll)) {
    SeriesKey key{row[1].as<std::string>(), row[2].as<std::string>(),
                  labels_from_json(row[3].as<std::string>())};
    ++per_node[key.node];
    ids.emplace(series_identity(key), row[0].as<int64_t>());
    keys.emplace(row[0].as<int64_t>(), std::move(key));
    if (int64_t created = row[4].as<int64_t>(); created > day_ago)
      recent.emplace_back(created, row[0].as<int64_t>());
  }
  std::sort(recent.begin(), recent.end());
  std::unique_lock lock(mu_);
  recent_ = std::move(recent);
  generation_.store(next_generation(), std::memory_order_release);
  ids_ = std::move(ids);
  per_node_ = std::move(per_node);
  keys_ = std::move(keys);
  by_metric_.clear();
  by_node_.clear();
  by_category_.clear();
  for (const auto& [id, key] : keys_)
    index(id, key);
}

std::vector<uint32_t> SeriesRegistry::lookup(const SampleBatch& batch,
                                             std::vector<int64_t>& ids) const {
  std::vector<uint32_t> missing;
  ids.assign(batch.series.size(), 0);
  std::shared_lock lock(mu_);
  for (uint32_t i = 0; i < batch.identities.size(); ++i) {
    auto it = ids_.find(batch.identities[i]);
    if (it == ids_.end()) {
      missing.push_back(i);
    } else {
      ids[i] = it->second;
    }
  }
  return missing;
}

void SeriesRegistry::create(pqxx::connection& c, const std::vector<SeriesKey>& series,
                            const std::vector<uint32_t>& missing, std::vector<int64_t>& ids) {
  // Check the limits against what is known now (and what this request adds).
  {
    std::shared_lock lock(mu_);
    std::unordered_map<std::string, int64_t> adding;
    int64_t fresh = 0;
    for (uint32_t i : missing) {
      if (ids_.count(series_identity(series[i]))) continue;
      ++fresh;
      ++adding[series[i].node];
    }
    if (static_cast<int64_t>(ids_.size()) + fresh > max_series_)
      throw SeriesLimitExceeded(
          fmt::format("series limit reached: this request adds {} series to the {} stored, beyond "
                      "limits.max_series ({})",
                      fresh, ids_.size(), max_series_));
    for (const auto& [node, n] : adding) {
      auto it = per_node_.find(node);
      int64_t have = it == per_node_.end() ? 0 : it->second;
      if (have + n > max_per_node_)
        throw SeriesLimitExceeded(fmt::format(
            "series limit reached for node \"{}\": this request adds {} series to its {}, "
            "beyond limits.max_series_per_node ({})",
            node, n, have, max_per_node_));
    }
  }
  pqxx::work tx(c);
  std::vector<std::string> nodes;
  for (uint32_t i : missing)
    nodes.push_back(series[i].node);
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  for (const auto& n : nodes)
    tx.exec_params(kUpsertNode, n);
  std::vector<int64_t> created_ms;
  for (uint32_t i : missing) {
    const SeriesKey& k = series[i];
    auto row = tx.exec_params(kUpsertSeries, k.metric, std::string(metric_category(k.metric)),
                              k.node, labels_json(k.labels))[0];
    ids[i] = row[0].as<int64_t>();
    created_ms.push_back(row[1].as<int64_t>());
  }
  tx.commit();
  const int64_t now = wall_ms();
  std::unique_lock lock(mu_);
  for (size_t m = 0; m < missing.size(); ++m) {
    const uint32_t i = missing[m];
    if (ids_.emplace(series_identity(series[i]), ids[i]).second) {
      ++per_node_[series[i].node];
      keys_.emplace(ids[i], series[i]);
      index(ids[i], series[i]);
      note_created(created_ms[m], ids[i], now);
      created_.inc();
    }
  }
}

void SeriesRegistry::note_created(int64_t created_ms, int64_t id, int64_t now_ms) {
  while (!recent_.empty() && recent_.front().first <= now_ms - kDayMs)
    recent_.pop_front();
  // Usually the newest; another daemon's older row (found by the upsert) goes in order.
  auto at = std::upper_bound(recent_.begin(), recent_.end(), std::pair{created_ms, id});
  if (created_ms > now_ms - kDayMs) recent_.insert(at, {created_ms, id});
}

void SeriesRegistry::remove(const std::vector<int64_t>& ids) {
  std::unique_lock lock(mu_);
  for (int64_t id : ids) {
    auto it = keys_.find(id);
    if (it == keys_.end()) continue;
    ids_.erase(series_identity(it->second));
    if (auto n = per_node_.find(it->second.node); n != per_node_.end() && --n->second == 0)
      per_node_.erase(n);
    unindex(id, it->second);
    keys_.erase(it);
  }
  generation_.store(next_generation(), std::memory_order_release);
}

void SeriesRegistry::unindex(int64_t id, const SeriesKey& key) {
  auto drop = [id](auto& index, const std::string& name) {
    auto it = index.find(name);
    if (it == index.end()) return;
    auto& list = it->second;
    auto at = std::lower_bound(list.begin(), list.end(), id);
    if (at != list.end() && *at == id) list.erase(at);
    if (list.empty()) index.erase(it);
  };
  drop(by_metric_, key.metric);
  drop(by_node_, key.node);
  drop(by_category_, std::string(metric_category(key.metric)));
}

CardinalityReport SeriesRegistry::cardinality(int64_t now_ms, size_t limit) const {
  CardinalityCounter counter;
  std::shared_lock lock(mu_);
  for (const auto& [metric, ids] : by_metric_)
    counter.add_metric(metric, static_cast<int64_t>(ids.size()));
  for (const auto& [node, ids] : by_node_)
    counter.add_node(node, static_cast<int64_t>(ids.size()));
  for (const auto& [id, key] : keys_)
    if (!key.labels.empty()) counter.add_labels(key.labels);
  for (auto it = recent_.rbegin(); it != recent_.rend() && it->first > now_ms - kDayMs; ++it)
    if (auto k = keys_.find(it->second); k != keys_.end())
      counter.created(k->second.metric, now_ms - it->first);
  return counter.finish(limit);  // copies what it keeps: the views die with the lock
}

void SeriesRegistry::index(int64_t id, const SeriesKey& key) {
  for (auto* ids : {&by_metric_[key.metric], &by_node_[key.node],
                    &by_category_[std::string(metric_category(key.metric))]})
    ids->insert(std::upper_bound(ids->begin(), ids->end(), id), id);
}

std::vector<std::pair<int64_t, SeriesKey>> SeriesRegistry::select(const SeriesFilter& f,
                                                                  int64_t after_id,
                                                                  size_t limit) const {
  std::vector<std::pair<int64_t, SeriesKey>> out;
  std::shared_lock lock(mu_);
  // The narrowest index the filter allows (metric, node or category: the shortest list),
  // then the rest of the filter on each; otherwise every series in id order.
  const std::vector<int64_t>* ids = nullptr;
  static const std::vector<int64_t> kNone;
  auto narrow = [&](const auto& index, const std::optional<std::string>& value) {
    if (!value) return;
    auto it = index.find(*value);
    const std::vector<int64_t>* list = it == index.end() ? &kNone : &it->second;
    if (!ids || list->size() < ids->size()) ids = list;
  };
  narrow(by_metric_, f.metric);
  narrow(by_node_, f.node);
  narrow(by_category_, f.category);
  if (ids) {
    for (auto it = std::upper_bound(ids->begin(), ids->end(), after_id);
         it != ids->end() && out.size() < limit; ++it) {
      const SeriesKey& key = keys_.at(*it);
      if (f.matches(key)) out.emplace_back(*it, key);
    }
    return out;
  }
  for (auto it = keys_.upper_bound(after_id); it != keys_.end() && out.size() < limit; ++it)
    if (f.matches(it->second)) out.emplace_back(it->first, it->second);
  return out;
}

std::optional<SeriesKey> SeriesRegistry::key(int64_t id) const {
  std::shared_lock lock(mu_);
  auto it = keys_.find(id);
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

size_t SeriesRegistry::size() const {
  std::shared_lock lock(mu_);
  return ids_.size();
}

}  // namespace metricsd::storage
