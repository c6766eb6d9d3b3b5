// Settings changed at run time; see live_settings.hpp.
#include "core/live_settings.hpp"

#include <fmt/format.h>

namespace metricsd {
namespace {

// In the order of LiveSettings::Index.
constexpr std::array<std::string_view, 6> kNames = {"retention.raw",         "retention.rollup_1m",
                                                    "retention.rollup_1h",   "nodes.stale_after_s",
                                                    "nodes.offline_after_s", "stream.flush_ms"};

}  // namespace

int64_t Settings::*LiveSettings::field(Index i) {
  static constexpr std::array<int64_t Settings::*, kCount> fields = {
      &Settings::retention_raw_ms,       &Settings::retention_rollup_1m_ms,
      &Settings::retention_rollup_1h_ms, &Settings::nodes_stale_after_s,
      &Settings::nodes_offline_after_s,  &Settings::stream_flush_ms};
  return fields[i];
}

LiveSettings::LiveSettings(const Settings& startup) : startup_(startup) {
  for (int i = 0; i < kCount; ++i)
    values_[i].store(startup.*field(static_cast<Index>(i)));
}

const std::vector<std::string_view>& LiveSettings::names() {
  static const std::vector<std::string_view> v(kNames.begin(), kNames.end());
  return v;
}

bool LiveSettings::is_live(std::string_view name) {
  for (auto n : kNames)
    if (n == name) return true;
  return false;
}

Settings LiveSettings::current() const {
  Settings s = startup_;
  for (int i = 0; i < kCount; ++i)
    s.*field(static_cast<Index>(i)) = get(static_cast<Index>(i));
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
          it.key(), fmt::join(kNames, ", ")));
    apply_setting_json(after, *spec, it.value(), "in the request");
  }
  if (after.nodes_stale_after_s >= after.nodes_offline_after_s)
    throw SettingsError(fmt::format(
        "settings nodes.stale_after_s ({}) and nodes.offline_after_s ({}): a node must turn "
        "stale before it turns offline",
        after.nodes_stale_after_s, after.nodes_offline_after_s));
  std::vector<Change> out;
  for (int i = 0; i < kCount; ++i) {
    auto f = field(static_cast<Index>(i));
    if (before.*f != after.*f) out.push_back({std::string(kNames[i]), before.*f, after.*f});
  }
  return out;
}

void LiveSettings::apply(const std::vector<Change>& changes) {
  std::lock_guard lock(mu_);
  for (const auto& c : changes)
    for (int i = 0; i < kCount; ++i)
      if (kNames[i] == c.name) values_[i].store(c.to.get<int64_t>());
}

}  // namespace metricsd
