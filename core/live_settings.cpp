// Settings changed at run time; see live_settings.hpp.
#include "core/live_settings.hpp"

#include <fmt/format.h>

namespace metricsd {
namespace {

// In the order of LiveSettings::Index.
constexpr std::array<std::string_view, 6> kNames = {"retention.raw",         "retention.rollup_1m",
                                                    "retention.rollup_1h",   "nodes.stale_after_s",
                                                    "nodes.offline_after_s", "stream.flush_ms"};
// The address lists, whose texts are kept with the policy made of them (network_).
constexpr std::array<std::string_view, 5> kNetworkNames = {
    "network.deny", "network.allow", "network.allow_write", "network.allow_operator",
    "network.allow_admin"};
constexpr std::array<std::string Settings::*, 5> kNetworkFields = {
    &Settings::network_deny, &Settings::network_allow, &Settings::network_allow_write,
    &Settings::network_allow_operator, &Settings::network_allow_admin};

}  // namespace

int64_t Settings::*LiveSettings::field(Index i) {
  static constexpr std::array<int64_t Settings::*, kCount> fields = {
      &Settings::retention_raw_ms,       &Settings::retention_rollup_1m_ms,
      &Settings::retention_rollup_1h_ms, &Settings::nodes_stale_after_s,
      &Settings::nodes_offline_after_s,  &Settings::stream_flush_ms};
  return fields[i];
}

std::shared_ptr<const LiveSettings::Network> LiveSettings::make_network(const Settings& s) {
  auto n = std::make_shared<Network>();
  for (auto f : kNetworkFields)
    n->texts.push_back(s.*f);
  n->policy = NetworkPolicy::from(s);
  return n;
}

LiveSettings::LiveSettings(const Settings& startup)
    : startup_(startup), network_(make_network(startup)) {
  for (int i = 0; i < kCount; ++i)
    values_[i].store(startup.*field(static_cast<Index>(i)));
}

const std::vector<std::string_view>& LiveSettings::names() {
  static const std::vector<std::string_view> v = [] {
    std::vector<std::string_view> all(kNetworkNames.begin(), kNetworkNames.end());
    all.insert(all.end(), kNames.begin(), kNames.end());
    return all;
  }();
  return v;
}

bool LiveSettings::is_live(std::string_view name) {
  for (auto n : names())
    if (n == name) return true;
  return false;
}

std::shared_ptr<const NetworkPolicy> LiveSettings::network() const {
  auto n = network_.load();
  return std::shared_ptr<const NetworkPolicy>(n, &n->policy);
}

Settings LiveSettings::current() const {
  Settings s = startup_;
  for (int i = 0; i < kCount; ++i)
    s.*field(static_cast<Index>(i)) = get(static_cast<Index>(i));
  auto net = network_.load();
  for (size_t i = 0; i < kNetworkFields.size(); ++i)
    s.*kNetworkFields[i] = net->texts[i];
  return s;
}

std::vector<LiveSettings::Change> LiveSettings::plan(const nlohmann::json& changes) const {
  std::lock_guard lock(mu_);
  const Settings before = current();
  Settings after = before;
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    const SettingSpec* spec = find_setting(it.key());
    if (!spec) throw SettingsError(fmt::format("setting {}: unknown setting", it.key()));
    if (!is_live(it.key()))
      throw SettingsError(fmt::format(
          "setting {}: cannot change while the daemon runs (set it in the config file, the "
          "environment or a flag, and restart); these can: {}",
          it.key(), fmt::join(names(), ", ")));
    apply_setting_json(after, *spec, it.value(), "in the request");
  }
  if (after.nodes_stale_after_s >= after.nodes_offline_after_s)
    throw SettingsError(fmt::format(
        "settings nodes.stale_after_s ({}) and nodes.offline_after_s ({}): a node must turn "
        "stale before it turns offline",
        after.nodes_stale_after_s, after.nodes_offline_after_s));
  std::vector<Change> out;
  for (size_t i = 0; i < kNetworkFields.size(); ++i) {
    auto f = kNetworkFields[i];
    if (before.*f != after.*f) out.push_back({std::string(kNetworkNames[i]), before.*f, after.*f});
  }
  for (int i = 0; i < kCount; ++i) {
    auto f = field(static_cast<Index>(i));
    if (before.*f != after.*f) out.push_back({std::string(kNames[i]), before.*f, after.*f});
  }
  return out;
}

void LiveSettings::apply(const std::vector<Change>& changes) {
  std::lock_guard lock(mu_);
  Settings next = current();
  bool network_changed = false;
  for (const auto& c : changes) {
    for (int i = 0; i < kCount; ++i)
      if (kNames[i] == c.name) values_[i].store(c.to.get<int64_t>());
    for (size_t i = 0; i < kNetworkFields.size(); ++i)
      if (kNetworkNames[i] == c.name) {
        next.*kNetworkFields[i] = c.to.get<std::string>();
        network_changed = true;
      }
  }
  if (network_changed) network_.store(make_network(next));
}

}  // namespace metricsd
