// LiveSettings: the settings an admin may change while the daemon runs
// (POST /api/v1/config/update): the network.* address lists, retention, the node status
// thresholds and the stream flush interval. Whoever uses one of these reads it here, each
// time, never from the start-up Settings. Changes hold until the daemon stops (the config
// file is not rewritten). Reads take no lock of ours; updates are all or nothing.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/network_policy.hpp"
#include "core/settings.hpp"

namespace metricsd {

class LiveSettings {
 public:
  explicit LiveSettings(const Settings& startup);

  // The names that may change at run time, in documentation order.
  static const std::vector<std::string_view>& names();
  static bool is_live(std::string_view name);

  int64_t retention_raw_ms() const { return get(kRetentionRaw); }
  int64_t retention_rollup_1m_ms() const { return get(kRetention1m); }
  int64_t retention_rollup_1h_ms() const { return get(kRetention1h); }
  int64_t nodes_stale_after_s() const { return get(kStale); }
  int64_t nodes_offline_after_s() const { return get(kOffline); }
  int64_t stream_flush_ms() const { return get(kFlush); }
  // The network.* lists as they are now; a change replaces the whole policy, so a holder
  // keeps a consistent one.
  std::shared_ptr<const NetworkPolicy> network() const;

  // The start-up settings with the current live values.
  Settings current() const;

  struct Change {
    std::string name;
    nlohmann::json from, to;
  };
  // What `changes` (setting name -> value as in the config file) would change, checked as
  // at start-up plus stale_after_s < offline_after_s. Throws SettingsError naming the
  // first bad one; a setting that is not live is refused too. Nothing is applied.
  std::vector<Change> plan(const nlohmann::json& changes) const;
  // Applies what plan() returned.
  void apply(const std::vector<Change>& changes);

 private:
  enum Index { kRetentionRaw, kRetention1m, kRetention1h, kStale, kOffline, kFlush, kCount };
  int64_t get(Index i) const { return values_[i].load(std::memory_order_relaxed); }
  static int64_t Settings::*field(Index i);
  // The network.* settings: their texts (in the order of names()) and the policy built
  // from them, replaced as one.
  struct Network {
    std::vector<std::string> texts;
    NetworkPolicy policy;
  };
  static std::shared_ptr<const Network> make_network(const Settings& s);

  const Settings startup_;
  mutable std::mutex mu_;  // serialises plan/apply against each other
  std::array<std::atomic<int64_t>, kCount> values_;
  std::atomic<std::shared_ptr<const Network>> network_;
};

}  // namespace metricsd
