// Settings: the table's defaults, the precedence defaults < file < environment < flags,
// the JSON file's shape, and that every malformed value is refused naming its setting.
#include "core/settings.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace metricsd {
namespace {

const SettingSpec& spec_of(std::string_view name) {
  for (const auto& s : setting_specs())
    if (s.name == name) return s;
  throw std::logic_error("test names an unknown setting: " + std::string(name));
}

// A resolved setting as text: strings as they are, numbers in their base unit (ms, bytes).
std::string value_of(const Settings& settings, std::string_view name) {
  const SettingSpec& s = spec_of(name);
  return s.text_field ? settings.*s.text_field : std::to_string(settings.*s.number_field);
}

// A config file setting one value, nested under its section: {"http":{"max_body_bytes":...}}.
std::string file_setting(std::string_view name, const nlohmann::json& value) {
  nlohmann::json j = nlohmann::json::object();
  auto dot = name.find('.');
  if (dot == std::string_view::npos) {
    j[std::string(name)] = value;
  } else {
    j[std::string(name.substr(0, dot))][std::string(name.substr(dot + 1))] = value;
  }
  return j.dump();
}

SettingsSources from_file(std::string text) {
  SettingsSources src;
  src.file_text = std::move(text);
  src.file_name = "/etc/metricsd.json";
  return src;
}

// Runs `fn`, expects a SettingsError, and that its message contains every fragment.
void expect_settings_error(const std::function<void()>& fn,
                           const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected SettingsError";
  } catch (const SettingsError& e) {
    for (const auto& f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos)
          << "message \"" << e.what() << "\" lacks \"" << f << "\"";
  }
}

TEST(Settings, DefaultsMatchTheTable) {
  Settings s = resolve_settings({});
  EXPECT_EQ(s.listen, "127.0.0.1:8080");
  EXPECT_EQ(s.data_dir, "./data");
  EXPECT_EQ(s.threads, 0);
  EXPECT_EQ(s.shutdown_grace_ms, 8'000);
  EXPECT_EQ(s.log_level, "info");
  EXPECT_EQ(s.log_format, "text");
  EXPECT_EQ(s.database_url, "");
  EXPECT_EQ(s.database_read_url, "");
  EXPECT_EQ(s.database_pool_size, 4);
  EXPECT_EQ(s.database_max_waiting, 1'000);
  EXPECT_EQ(s.database_connect_timeout_ms, 5'000);
  EXPECT_EQ(s.http_max_body_bytes, 16 * 1024 * 1024);
  EXPECT_EQ(s.http_max_header_bytes, 16 * 1024);
  EXPECT_EQ(s.http_header_timeout_ms, 10'000);
  EXPECT_EQ(s.http_body_timeout_ms, 60'000);
  EXPECT_EQ(s.http_idle_timeout_ms, 60'000);
  EXPECT_EQ(s.http_max_connections, 10'000);
  EXPECT_EQ(s.ingest_max_queue_samples, 2'000'000);
  EXPECT_EQ(s.ingest_max_future_s, 600);
  EXPECT_EQ(s.limits_max_series, 1'000'000);
  EXPECT_EQ(s.limits_max_series_per_node, 10'000);
  EXPECT_EQ(s.nodes_stale_after_s, 15);
  EXPECT_EQ(s.nodes_offline_after_s, 60);
  EXPECT_EQ(s.retention_raw_ms, 7 * 86'400'000LL);
  EXPECT_EQ(s.retention_rollup_1m_ms, 30 * 86'400'000LL);
  EXPECT_EQ(s.retention_rollup_1h_ms, 365 * 86'400'000LL);
}

TEST(Settings, EverySpecIsCompleteAndNamesAreUnique) {
  std::set<std::string> names, envs, flags;
  for (const auto& s : setting_specs()) {
    SCOPED_TRACE(std::string(s.name));
    EXPECT_FALSE(s.help.empty());
    EXPECT_NE(s.text_field == nullptr, s.number_field == nullptr) << "exactly one field";
    EXPECT_EQ(s.type == SettingType::kEnum, !s.choices.empty());
    EXPECT_LE(s.min, s.max);
    names.insert(std::string(s.name));
    envs.insert(env_name(s.name));
    flags.insert(flag_name(s.name));
  }
  EXPECT_EQ(names.size(), setting_specs().size());
  EXPECT_EQ(envs.size(), setting_specs().size());
  EXPECT_EQ(flags.size(), setting_specs().size());
}

TEST(Settings, EnvironmentAndFlagNamesDeriveFromTheSettingName) {
  struct Case {
    std::string_view setting, env, flag;
  };
  const Case cases[] = {
      {"listen", "METRICSD_LISTEN", "--listen"},
      {"shutdown_grace_ms", "METRICSD_SHUTDOWN_GRACE_MS", "--shutdown-grace-ms"},
      {"http.max_body_bytes", "METRICSD_HTTP_MAX_BODY_BYTES", "--http-max-body-bytes"},
      {"retention.rollup_1m", "METRICSD_RETENTION_ROLLUP_1M", "--retention-rollup-1m"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(env_name(c.setting), c.env);
    EXPECT_EQ(flag_name(c.setting), c.flag);
  }
}

// One setting given at every level; `at_*` is the value (in base units) once that level wins.
struct Layered {
  std::string_view setting;
  nlohmann::json file_value;
  std::string env_value, flag_value;
  std::string at_file, at_env, at_flag;
};

const std::vector<Layered>& layered_cases() {
  static const std::vector<Layered> cases = {
      {"threads", 2, "3", "4", "2", "3", "4"},
      {"data_dir", "/srv/file", "/srv/env", "/srv/flag", "/srv/file", "/srv/env", "/srv/flag"},
      {"listen", "0.0.0.0:1", "0.0.0.0:2", "[::1]:3", "0.0.0.0:1", "0.0.0.0:2", "[::1]:3"},
      {"log.level", "debug", "warn", "error", "debug", "warn", "error"},
      {"http.max_body_bytes", "1MiB", "2MiB", "3MB", "1048576", "2097152", "3000000"},
      {"http.idle_timeout_ms", "1s", "2m", "30m", "1000", "120000", "1800000"},
      {"retention.raw", 172'800'000, "3d", "1w", "172800000", "259200000", "604800000"},
  };
  return cases;
}

SettingsSources layered_sources(const Layered& c, bool file, bool env, bool flag) {
  SettingsSources src;
  if (file) src = from_file(file_setting(c.setting, c.file_value));
  if (env) src.env = {{env_name(c.setting), c.env_value}};
  if (flag) src.flags = {{std::string(c.setting), c.flag_value}};
  return src;
}

TEST(Settings, FileOverridesDefault) {
  for (const auto& c : layered_cases()) {
    SCOPED_TRACE(std::string(c.setting));
    EXPECT_EQ(value_of(resolve_settings(layered_sources(c, true, false, false)), c.setting),
              c.at_file);
  }
}

TEST(Settings, EnvironmentOverridesFile) {
  for (const auto& c : layered_cases()) {
    SCOPED_TRACE(std::string(c.setting));
    EXPECT_EQ(value_of(resolve_settings(layered_sources(c, true, true, false)), c.setting),
              c.at_env);
  }
}

TEST(Settings, FlagOverridesEnvironmentAndFile) {
  for (const auto& c : layered_cases()) {
    SCOPED_TRACE(std::string(c.setting));
    EXPECT_EQ(value_of(resolve_settings(layered_sources(c, true, true, true)), c.setting),
              c.at_flag);
    EXPECT_EQ(value_of(resolve_settings(layered_sources(c, false, true, true)), c.setting),
              c.at_flag);
    EXPECT_EQ(value_of(resolve_settings(layered_sources(c, true, false, true)), c.setting),
              c.at_flag);
  }
}

TEST(Settings, NestedSectionsInFileSetDottedSettingsAndLeaveOthersAtDefault) {
  Settings s = resolve_settings(from_file(R"({
    "threads": 8,
    "log": {"level": "debug", "format": "json"},
    "http": {"max_body_bytes": "1MiB"},
    "retention": {}
  })"));
  EXPECT_EQ(s.threads, 8);
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_EQ(s.log_format, "json");
  EXPECT_EQ(s.http_max_body_bytes, 1 << 20);
  EXPECT_EQ(s.http_max_header_bytes, 16 * 1024);
  EXPECT_EQ(s.retention_raw_ms, 7 * 86'400'000LL);
}

TEST(Settings, FileAcceptsComments) {
  Settings s = resolve_settings(
      from_file("// leading comment\n{\n  /* block */ \"log\": {\n    // why debug\n"
                "    \"level\": \"debug\" // trailing\n  }\n}\n"));
  EXPECT_EQ(s.log_level, "debug");
}

TEST(Settings, FileBareNumberIsMillisecondsForDurationsAndBytesForSizes) {
  Settings s = resolve_settings(
      from_file(R"({"shutdown_grace_ms": 1500, "http": {"max_body_bytes": 2048}})"));
  EXPECT_EQ(s.shutdown_grace_ms, 1'500);
  EXPECT_EQ(s.http_max_body_bytes, 2'048);
}

TEST(Settings, UnknownKeyInFileIsRefusedNamingKeyAndFile) {
  struct Case {
    std::string text, name;
  };
  const Case cases[] = {
      {R"({"bogus": 1})", "setting bogus"},
      {R"({"http": {"bogus": 1}})", "setting http.bogus"},
      {R"({"bogus": {"level": "debug"}})", "setting bogus.level"},
      {R"({"log": "debug"})", "setting log"},
      {R"({"http": {"deeper": {"max_body_bytes": 1}}})", "setting http.deeper"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    expect_settings_error([&] { resolve_settings(from_file(c.text)); },
                          {c.name, "/etc/metricsd.json"});
  }
}

TEST(Settings, FileThatIsNotAJsonObjectIsRefusedNamingTheFile) {
  for (std::string text : {"{", "{\"threads\": 1,}", "[]", "42", ""}) {
    SCOPED_TRACE(text);
    expect_settings_error([&] { resolve_settings(from_file(text)); },
                          {"config file /etc/metricsd.json"});
  }
}

TEST(Settings, WrongJsonTypeInFileIsRefusedNamingTheSetting) {
  struct Case {
    std::string text, name;
  };
  const Case cases[] = {
      {R"({"threads": "many"})", "threads"},
      {R"({"threads": 1.5})", "threads"},
      {R"({"threads": true})", "threads"},
      {R"({"threads": null})", "threads"},
      {R"({"threads": [1]})", "threads"},
      {R"({"threads": 18446744073709551615})", "threads"},  // beyond int64 as a JSON number
      {R"({"data_dir": 5})", "data_dir"},
      {R"({"data_dir": {"path": "/x"}})", "data_dir"},
      {R"({"listen": 8080})", "listen"},
      {R"({"log": {"level": 1}})", "log.level"},
      {R"({"database": {"url": false}})", "database.url"},
      {R"({"http": {"max_body_bytes": {"x": 1}}})", "http.max_body_bytes"},
      {R"({"http": {"idle_timeout_ms": -5}})", "http.idle_timeout_ms"},
      {R"({"http": {"idle_timeout_ms": 1.5}})", "http.idle_timeout_ms"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    expect_settings_error([&] { resolve_settings(from_file(c.text)); },
                          {"setting " + c.name + ":", "/etc/metricsd.json"});
  }
}

TEST(Settings, UnknownEnvironmentVariableIsRefusedNamingIt) {
  for (std::string var :
       {"METRICSD_BOGUS", "METRICSD_HTTP_MAX_BODY", "METRICSD_http_max_body_bytes"}) {
    SettingsSources src;
    src.env = {{var, "1"}};
    expect_settings_error([&] { resolve_settings(src); }, {"environment " + var});
  }
}

TEST(Settings, UnknownFlagSettingIsRefusedNamingIt) {
  SettingsSources src;
  src.flags = {{"bogus", "1"}};
  expect_settings_error([&] { resolve_settings(src); }, {"setting bogus"});
}

struct Malformed {
  std::string_view setting;
  std::string value;
};

const Malformed kMalformed[] = {
    {"threads", "257"},  // above max
    {"threads", "-1"},   // below min
    {"threads", "abc"},
    {"threads", "99999999999999999999"},  // beyond int64
    {"threads", ""},
    {"threads", "1.5"},
    {"threads", " 4"},
    {"database.pool_size", "0"},
    {"http.max_body_bytes", "12XB"},
    {"http.max_body_bytes", "16mib"},
    {"http.max_body_bytes", "1023"},  // below min
    {"http.max_body_bytes", "5GiB"},  // above max
    {"http.max_body_bytes", "-1"},
    {"http.idle_timeout_ms", "7x"},
    {"http.idle_timeout_ms", "60"},  // a duration needs a unit
    {"http.idle_timeout_ms", "99ms"},
    {"http.idle_timeout_ms", "-5s"},
    {"http.idle_timeout_ms", "1.5s"},
    {"retention.raw", "99999999999999999999d"},
    {"retention.raw", "23h"},
    {"log.level", "verbose"},
    {"log.level", "INFO"},
    {"log.format", ""},
    {"listen", "8080"},
    {"listen", "host:99999"},
    {"listen", ":8080"},
    {"listen", "host:"},
    {"listen", "host:-1"},
    {"listen", "host:http"},
    {"listen", "::1:8080"},
    {"listen", "[]:80"},
    {"network.deny", "10.0.0.0/33"},  // one entry: the message quotes it
    {"network.allow_admin", "10.0.0.1/8"},
};

TEST(Settings, MalformedValueFromFlagIsRefusedNamingSettingAndFlag) {
  for (const auto& c : kMalformed) {
    SCOPED_TRACE(std::string(c.setting) + "=" + c.value);
    SettingsSources src;
    src.flags = {{std::string(c.setting), c.value}};
    expect_settings_error(
        [&] { resolve_settings(src); },
        {"setting " + std::string(c.setting) + ":", "\"" + c.value + "\"", flag_name(c.setting)});
  }
}

TEST(Settings, MalformedValueFromEnvironmentIsRefusedNamingSettingAndVariable) {
  for (const auto& c : kMalformed) {
    SCOPED_TRACE(std::string(c.setting) + "=" + c.value);
    SettingsSources src;
    src.env = {{env_name(c.setting), c.value}};
    expect_settings_error(
        [&] { resolve_settings(src); },
        {"setting " + std::string(c.setting) + ":", "\"" + c.value + "\"", env_name(c.setting)});
  }
}

TEST(Settings, MalformedValueFromFileIsRefusedNamingSettingAndFile) {
  for (const auto& c : kMalformed) {
    SCOPED_TRACE(std::string(c.setting) + "=" + c.value);
    expect_settings_error(
        [&] { resolve_settings(from_file(file_setting(c.setting, c.value))); },
        {"setting " + std::string(c.setting) + ":", "\"" + c.value + "\"", "/etc/metricsd.json"});
  }
}

TEST(Settings, BoundaryAndWellFormedValuesAreAccepted) {
  struct Case {
    std::string_view setting;
    std::string value, resolved;
  };
  const Case cases[] = {
      {"threads", "0", "0"},
      {"threads", "256", "256"},
      {"http.max_body_bytes", "1024", "1024"},
      {"http.max_body_bytes", "4GiB", "4294967296"},
      {"http.max_header_bytes", "1MiB", "1048576"},
      {"http.idle_timeout_ms", "100ms", "100"},
      {"http.idle_timeout_ms", "1h", "3600000"},
      {"retention.raw", "1d", "86400000"},
      {"retention.raw", "36500d", "3153600000000"},
      {"log.level", "off", "off"},
      {"log.format", "json", "json"},
      {"listen", "[::1]:8080", "[::1]:8080"},
      {"listen", "0.0.0.0:0", "0.0.0.0:0"},
      {"listen", "localhost:65535", "localhost:65535"},
      {"database.url", "postgresql://u@db:5432/m?sslmode=require",
       "postgresql://u@db:5432/m?sslmode=require"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.setting) + "=" + c.value);
    SettingsSources src;
    src.flags = {{std::string(c.setting), c.value}};
    EXPECT_EQ(value_of(resolve_settings(src), c.setting), c.resolved);
  }
}

TEST(Settings, ParseDurationMs) {
  struct Case {
    std::string_view text;
    std::optional<int64_t> ms;
  };
  const Case cases[] = {
      {"0ms", 0},
      {"500ms", 500},
      {"30s", 30'000},
      {"15m", 900'000},
      {"24h", 86'400'000},
      {"7d", 604'800'000},
      {"2w", 1'209'600'000},
      {"9223372036854775807ms", INT64_MAX},
      {"106751991167d", 106'751'991'167LL * 86'400'000},
      {"106751991168d", std::nullopt},  // just past INT64_MAX ms
      {"99999999999999999999d", std::nullopt},
      {"9223372036854775808ms", std::nullopt},
      {"", std::nullopt},
      {"7x", std::nullopt},
      {"60", std::nullopt},
      {"ms", std::nullopt},
      {"1.5s", std::nullopt},
      {"-5s", std::nullopt},
      {"+5s", std::nullopt},
      {" 5s", std::nullopt},
      {"5s ", std::nullopt},
      {"5 s", std::nullopt},
      {"5S", std::nullopt},
      {"5sec", std::nullopt},
      {"1h30m", std::nullopt},
  };
  for (const auto& c : cases)
    EXPECT_EQ(parse_duration_ms(c.text), c.ms) << '"' << c.text << '"';
}

TEST(Settings, ParseSizeBytes) {
  struct Case {
    std::string_view text;
    std::optional<int64_t> bytes;
  };
  const Case cases[] = {
      {"0", 0},
      {"1024", 1'024},
      {"12B", 12},
      {"16KiB", 16'384},
      {"16MiB", 16'777'216},
      {"1GiB", 1'073'741'824},
      {"1KB", 1'000},
      {"2MB", 2'000'000},
      {"3GB", 3'000'000'000},
      {"9223372036854775807", INT64_MAX},
      {"8589934591GiB", ((int64_t{1} << 33) - 1) << 30},
      {"8589934592GiB", std::nullopt},  // 2^63 bytes
      {"9223372036854775808", std::nullopt},
      {"99999999999999999999", std::nullopt},
      {"", std::nullopt},
      {"12XB", std::nullopt},
      {"16kib", std::nullopt},
      {"16K", std::nullopt},
      {"MiB", std::nullopt},
      {"1.5MiB", std::nullopt},
      {"-1", std::nullopt},
      {"16 MiB", std::nullopt},
  };
  for (const auto& c : cases)
    EXPECT_EQ(parse_size_bytes(c.text), c.bytes) << '"' << c.text << '"';
}

TEST(Settings, ExampleConfigParsesAndHoldsEverySettingAtItsDefault) {
  const std::string text = example_config();
  nlohmann::json j = nlohmann::json::parse(text, nullptr, true, /*ignore_comments=*/true);
  ASSERT_TRUE(j.is_object());
  size_t leaves = 0;
  for (const auto& [key, value] : j.items())
    leaves += value.is_object() ? value.size() : 1;
  EXPECT_EQ(leaves, setting_specs().size());
  for (const auto& s : setting_specs()) {
    SCOPED_TRACE(std::string(s.name));
    auto dot = s.name.find('.');
    const nlohmann::json* v = &j;
    if (dot != std::string_view::npos) {
      auto sec = std::string(s.name.substr(0, dot));
      ASSERT_TRUE(j.contains(sec));
      v = &j[sec];
    }
    auto key = std::string(dot == std::string_view::npos ? s.name : s.name.substr(dot + 1));
    ASSERT_TRUE(v->contains(key));
    const auto& value = (*v)[key];
    if (s.type == SettingType::kInt) {
      ASSERT_TRUE(value.is_number_integer());
      EXPECT_EQ(std::to_string(value.get<int64_t>()), s.default_text);
    } else {
      ASSERT_TRUE(value.is_string());
      EXPECT_EQ(value.get<std::string>(), s.default_text);
    }
    EXPECT_NE(text.find("// " + std::string(s.help) + "\n"), std::string::npos);
  }
}

TEST(Settings, ExampleConfigResolvesToTheDefaults) {
  Settings defaults = resolve_settings({});
  Settings from_example = resolve_settings(from_file(example_config()));
  for (const auto& s : setting_specs())
    EXPECT_EQ(value_of(from_example, s.name), value_of(defaults, s.name)) << s.name;
}

TEST(Settings, CommittedExampleConfigFileMatchesTheGeneratedOne) {
  std::ifstream f(METRICSD_SOURCE_DIR "/config/metricsd.example.json", std::ios::binary);
  ASSERT_TRUE(f) << "config/metricsd.example.json is missing; regenerate it with "
                    "`metricsd --example-config > config/metricsd.example.json`";
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), example_config())
      << "regenerate with `metricsd --example-config > config/metricsd.example.json`";
}

TEST(Settings, HelpListsEveryFlagAndEnvironmentVariable) {
  const std::string help = settings_help();
  for (const auto& s : setting_specs()) {
    EXPECT_NE(help.find(flag_name(s.name) + " "), std::string::npos) << s.name;
    EXPECT_NE(help.find(env_name(s.name) + "\n"), std::string::npos) << s.name;
  }
}

}  // namespace
}  // namespace metricsd
