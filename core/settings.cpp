// The settings table and its layered resolution; see settings.hpp.
#include "core/settings.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "core/cidr.hpp"
#include "core/names.hpp"

namespace metricsd {
namespace {

using T = SettingType;
using S = Settings;

constexpr int64_t kDay = 86'400'000;

std::vector<SettingSpec> build_specs() {
  std::vector<SettingSpec> v;
  auto text = [&](std::string_view n, T t, std::string_view d, std::string S::*f,
                  std::string_view h, std::vector<std::string_view> choices = {}) {
    SettingSpec s{n, t, d, h};
    s.text_field = f;
    s.choices = std::move(choices);
    v.push_back(std::move(s));
  };
  auto num = [&](std::string_view n, T t, std::string_view d, int64_t S::*f, std::string_view h,
                 int64_t lo, int64_t hi) {
    SettingSpec s{n, t, d, h, lo, hi};
    s.number_field = f;
    v.push_back(std::move(s));
  };
  text("listen", T::kAddress, "127.0.0.1:8080", &S::listen,
       "address:port for HTTP and WebSocket (port 0 picks a free port)");
  text("data_dir", T::kString, "./data", &S::data_dir,
       "the daemon's files; the embedded PostgreSQL lives under it");
  num("threads", T::kInt, "0", &S::threads, "io threads; 0 = one per core", 0, 256);
  num("shutdown_grace_ms", T::kDuration, "8s", &S::shutdown_grace_ms,
      "on SIGTERM, how long in-flight requests may take before they are cut", 0, 60'000);
  text("log.level", T::kEnum, "info", &S::log_level, "trace, debug, info, warn, error or off",
       {"trace", "debug", "info", "warn", "error", "off"});
  text("log.format", T::kEnum, "text", &S::log_format, "text, or json for one JSON object a line",
       {"text", "json"});
  num("log.queue_messages", T::kInt, "8192", &S::log_queue_messages,
      "log messages that may wait for stderr; beyond it the oldest are dropped and counted "
      "(metricsd_log_messages_dropped_total), so logging never blocks a request",
      16, 1'000'000);
  text("database.url", T::kString, "", &S::database_url,
       "PostgreSQL URL; empty = embedded PostgreSQL in data_dir");
  text("database.read_url", T::kString, "", &S::database_read_url,
       "optional replica for queries (empty = database.url)");
  num("database.pool_size", T::kInt, "4", &S::database_pool_size,
      "storage threads, each with its own connection", 1, 64);
  num("database.read_pool_size", T::kInt, "2", &S::database_read_pool_size,
      "storage threads for queries (on database.read_url when set)", 1, 64);
  num("database.max_waiting", T::kInt, "1000", &S::database_max_waiting,
      "storage jobs allowed to wait for a thread; beyond: 503 + Retry-After", 1, 1'000'000);
  num("database.connect_timeout_ms", T::kDuration, "5s", &S::database_connect_timeout_ms,
      "how long one connection attempt may take", 1000, 600'000);
  num("database.embedded_shared_buffers", T::kSize, "64MiB", &S::database_embedded_shared_buffers,
      "the embedded PostgreSQL's shared_buffers (its page cache; ignored with database.url)",
      int64_t{16} << 20, int64_t{64} << 30);
  num("database.embedded_restart_timeout_ms", T::kDuration, "2m",
      &S::database_embedded_restart_timeout_ms,
      "the embedded PostgreSQL is restarted when it exits; if it is not back within this, "
      "metricsd exits with code 1",
      1000, 86'400'000);
  text("database.embedded_sql_listen", T::kString, "", &S::database_embedded_sql_listen,
       "host:port on which the embedded PostgreSQL also accepts TCP connections, only from the "
       "read-only role metricsd_reader (password in <data_dir>/sql-reader.password), for "
       "Grafana's PostgreSQL data source and psql; empty: unix socket only");
  num("disk.min_free_bytes", T::kSize, "1GiB", &S::disk_min_free_bytes,
      "below this much free space on the database's file system (data_dir's with database.url), "
      "sample writes and heartbeats get 507 + Retry-After, /readyz 503 and compaction waits, "
      "until 1.25x this is free again (0: never)",
      0, int64_t{1} << 50);
  num("disk.check_interval_ms", T::kDuration, "1s", &S::disk_check_interval_ms,
      "how often the free space of the watched file systems is checked", 100, 60'000);
  num("http.max_body_bytes", T::kSize, "16MiB", &S::http_max_body_bytes,
      "larger request bodies get 413", 1024, int64_t{4} << 30);
  num("http.max_header_bytes", T::kSize, "16KiB", &S::http_max_header_bytes,
      "larger request headers get 431", 1024, 1 << 20);
  num("http.header_timeout_ms", T::kDuration, "10s", &S::http_header_timeout_ms,
      "time to receive a request's headers once it has started", 100, 3'600'000);
  num("http.body_timeout_ms", T::kDuration, "60s", &S::http_body_timeout_ms,
      "time to receive a request body", 100, 3'600'000);
  num("http.idle_timeout_ms", T::kDuration, "60s", &S::http_idle_timeout_ms,
      "an idle keep-alive connection is closed after this", 100, 3'600'000);
  num("http.max_connections", T::kInt, "10000", &S::http_max_connections,
      "open connections; beyond: 503 and close", 1, 1'000'000);
  num("http.max_connections_per_addr", T::kInt, "512", &S::http_max_connections_per_addr,
      "open connections from one client address; beyond: closed at once", 1, 1'000'000);
  num("http.max_url_bytes", T::kSize, "8KiB", &S::http_max_url_bytes,
      "longer request targets get 414", 256, 1 << 20);
  num("http.max_header_count", T::kInt, "100", &S::http_max_header_count,
      "requests with more header fields get 431", 8, 10'000);
  text("http.cors_origins", T::kString, "", &S::http_cors_origins,
       "browser origins allowed to call the API (comma-separated, or *); empty: none");
  text("network.deny", T::kCidrList, "", &S::network_deny,
       "client addresses refused everywhere, before anything is read: comma-separated CIDR "
       "ranges or addresses (10.0.0.0/8, 192.168.1.5, fd00::/8)");
  text("network.allow", T::kCidrList, "", &S::network_allow,
       "if set, only these addresses (CIDR ranges) may connect at all; others are closed at once");
  text("network.allow_write", T::kCidrList, "", &S::network_allow_write,
       "if set, ingest routes (agent access) answer only these addresses (CIDR ranges); others "
       "get 403 before their token is looked at");
  text("network.allow_operator", T::kCidrList, "", &S::network_allow_operator,
       "if set, operator routes (commands, alert rules, silences) answer only these addresses "
       "(CIDR ranges); others get 403 before their token is looked at");
  text("network.allow_admin", T::kCidrList, "", &S::network_allow_admin,
       "if set, admin routes (tokens, config, audit, receivers) answer only these addresses "
       "(CIDR ranges; not nested: each list guards its own level's routes)");
  num("ingest.max_queue_samples", T::kInt, "2000000", &S::ingest_max_queue_samples,
      "samples waiting for commit; beyond: 503 + Retry-After", 1000, 1'000'000'000);
  num("ingest.max_future_s", T::kInt, "600", &S::ingest_max_future_s,
      "samples further ahead than this are rejected", 0, 365 * 86'400);
  num("ingest.compaction_interval_ms", T::kDuration, "10s", &S::ingest_compaction_interval_ms,
      "how often closed windows move from the inbox into sample and rollup blocks", 100, 3'600'000);
  num("ingest.compaction_grace_ms", T::kDuration, "1m", &S::ingest_compaction_grace_ms,
      "a 10-minute window is compacted this long after it ends (later samples still count)", 0,
      86'400'000);
  num("ingest.max_head_samples", T::kInt, "20000000", &S::ingest_max_head_samples,
      "samples held in memory before compaction also takes open windows (about 4 B each)", 10'000,
      2'000'000'000);
  num("ingest.line_cache_mb", T::kInt, "16", &S::ingest_line_cache_mb,
      "memory per io thread for the series ids of line-protocol lines seen before, so a known "
      "line skips per-field lookups (0: off)",
      0, 100'000);
  text("ingest.prometheus_node_label", T::kString, "instance", &S::ingest_prometheus_node_label,
       "the label of Prometheus remote-write series that names the node (its other labels stay "
       "labels); series without it take ?node= from the URL, else are refused and counted");
  num("query.timeout_ms", T::kDuration, "10s", &S::query_timeout_ms,
      "a query's database work is cancelled after this (503)", 100, 600'000);
  num("query.cache_mb", T::kInt, "64", &S::query_cache_mb,
      "memory for decoded rollup days, so repeated dashboard queries skip the database (0: off; "
      "off with database.read_url)",
      0, 1'000'000);
  num("limits.max_series", T::kInt, "1000000", &S::limits_max_series, "series in the whole store",
      1, 1'000'000'000);
  num("limits.max_series_per_node", T::kInt, "10000", &S::limits_max_series_per_node,
      "series of one node", 1, 1'000'000'000);
  num("limits.max_inflight_body_bytes", T::kSize, "256MiB", &S::limits_max_inflight_body_bytes,
      "request bodies being received at once, all connections together; beyond: 503 + "
      "Retry-After",
      int64_t{1} << 20, int64_t{1} << 40);
  num("nodes.stale_after_s", T::kInt, "15", &S::nodes_stale_after_s,
      "a node is stale after this long without a heartbeat (at least 3x its interval)", 1, 86'400);
  num("nodes.offline_after_s", T::kInt, "60", &S::nodes_offline_after_s,
      "a node is offline after this long without a heartbeat", 1, 30 * 86'400);
  num("retention.raw", T::kDuration, "7d", &S::retention_raw_ms, "how long raw samples are kept",
      kDay, 100 * 365 * kDay);
  num("retention.rollup_1m", T::kDuration, "30d", &S::retention_rollup_1m_ms,
      "how long 1-minute rollups are kept", kDay, 100 * 365 * kDay);
  num("retention.rollup_1h", T::kDuration, "365d", &S::retention_rollup_1h_ms,
      "how long 1-hour rollups are kept", kDay, 100 * 365 * kDay);
  num("stream.flush_ms", T::kDuration, "100ms", &S::stream_flush_ms,
      "live stream: at most one metrics message per client per this interval (coalescing)", 1,
      60'000);
  num("stream.max_clients", T::kInt, "5000", &S::stream_max_clients,
      "open /ws/metrics connections; beyond: 503 before the upgrade", 1, 1'000'000);
  num("stream.max_client_queue", T::kInt, "256", &S::stream_max_client_queue,
      "messages waiting for one stream client; beyond, its metrics messages are shed", 2,
      1'000'000);
  num("stream.max_lag_ms", T::kDuration, "10s", &S::stream_max_lag_ms,
      "a stream client whose oldest unsent message is older than this is closed (1013)", 100,
      3'600'000);
  num("stream.max_channels", T::kInt, "64", &S::stream_max_channels,
      "channels one stream client may subscribe to", 1, 10'000);
  num("stream.max_message_bytes", T::kSize, "64KiB", &S::stream_max_message_bytes,
      "larger client messages get an error (16x larger ones close the connection, 1009)", 256,
      16 << 20);
  num("stream.ping_interval_ms", T::kDuration, "15s", &S::stream_ping_interval_ms,
      "idle stream clients are pinged after this; one silent for twice this is closed", 100,
      3'600'000);
  num("stream.max_snapshot_series", T::kInt, "10000", &S::stream_max_snapshot_series,
      "series in one subscribe's snapshot; beyond, it is cut and marked truncated", 1, 10'000'000);
  num("stream.max_pending_samples", T::kInt, "2000000", &S::stream_max_pending_samples,
      "committed samples waiting for the stream hub; beyond, they are not streamed (counted)", 1000,
      1'000'000'000);
  text("auth.mode", T::kEnum, "required", &S::auth_mode,
       "required: every /api/v1 route needs a token; disabled (loopback listen only): none do",
       {"required", "disabled"});
  num("auth.cache_ttl_ms", T::kDuration, "10s", &S::auth_cache_ttl_ms,
      "a cached token is checked against the database again after this (revocations made "
      "through this daemon apply at once, others within this or at the next NOTIFY)",
      0, 3'600'000);
  num("auth.cache_max_tokens", T::kInt, "10000", &S::auth_cache_max_tokens,
      "tokens held in the cache", 16, 10'000'000);
  num("rate_limit.per_token_rps", T::kInt, "1000", &S::rate_limit_per_token_rps,
      "requests per second one token may make on average; beyond: 429 + Retry-After", 1,
      100'000'000);
  num("rate_limit.burst", T::kInt, "2000", &S::rate_limit_burst,
      "requests one token may make at once above its rate", 1, 100'000'000);
  num("rate_limit.per_token_samples_per_s", T::kInt, "10000000",
      &S::rate_limit_per_token_samples_per_s,
      "samples per second one token may write (a 1 s burst of this size is allowed)", 1,
      1'000'000'000);
  num("rate_limit.per_addr_rps", T::kInt, "100", &S::rate_limit_per_addr_rps,
      "lookups per second of unknown tokens from one address (burst: 2x); beyond, its unknown "
      "tokens get 429 without a lookup (valid ones are served)",
      1, 100'000'000);
  text("tls.cert_file", T::kString, "", &S::tls_cert_file,
       "PEM certificate chain; with tls.key_file, serve HTTPS/WSS only (reloaded on SIGHUP)");
  text("tls.key_file", T::kString, "", &S::tls_key_file, "PEM private key for tls.cert_file");
  text("alerts.rules_file", T::kString, "", &S::alerts_rules_file,
       "alert rules, one JSON object per line, applied at start and on SIGHUP");
  text("alerts.smtp_url", T::kString, "", &S::alerts_smtp_url,
       "mail server for email receivers: smtp://host:587 (STARTTLS), smtps://host:465, "
       "smtp+plain://host:25");
  text("alerts.smtp_username", T::kString, "", &S::alerts_smtp_username,
       "SMTP AUTH user name; empty: no AUTH");
  text("alerts.smtp_password", T::kString, "", &S::alerts_smtp_password,
       "SMTP AUTH password (shown masked)");
  text("alerts.smtp_from", T::kString, "metricsd <metricsd@localhost>", &S::alerts_smtp_from,
       "From of alert e-mails");
  return v;
}

bool parse_int(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Number followed by a unit from `units`; a bare number uses `bare_unit` (0: not allowed).
std::optional<int64_t> parse_with_units(
    std::string_view text, std::initializer_list<std::pair<std::string_view, int64_t>> units,
    int64_t bare_unit) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9')
    ++i;
  int64_t n = 0;
  if (!parse_int(text.substr(0, i), n)) return std::nullopt;
  std::string_view unit = text.substr(i);
  int64_t mult = 0;
  if (unit.empty()) {
    mult = bare_unit;
  } else {
    for (const auto& [u, m] : units)
      if (u == unit) mult = m;
  }
  if (mult == 0 || n > INT64_MAX / mult) return std::nullopt;
  return n * mult;
}

std::string describe_type(const SettingSpec& s) {
  switch (s.type) {
    case T::kString:
      return "a string";
    case T::kInt:
      return fmt::format("an integer from {} to {}", s.min, s.max);
    case T::kSize:
      return "a size like 16MiB, 64KiB or a number of bytes";
    case T::kDuration:
      return "a duration like 500ms, 30s, 15m, 24h or 7d";
    case T::kAddress:
      return "host:port, e.g. 127.0.0.1:8080";
    case T::kCidrList:
      return "comma-separated CIDR ranges, e.g. 10.0.0.0/8, 192.168.1.5, fd00::/8";
    case T::kEnum: {
      std::string c;
      for (auto ch : s.choices) {
        if (!c.empty()) c += '|';
        c += ch;
      }
      return "one of " + c;
    }
  }
  return "?";
}

bool valid_address(std::string_view a) {
  auto colon = a.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  int64_t port = 0;
  if (!parse_int(a.substr(colon + 1), port) || port < 0 || port > 65535) return false;
  std::string_view host = a.substr(0, colon);
  if (host.front() == '[') return host.size() > 2 && host.back() == ']';
  return host.find(':') == std::string_view::npos;
}

// Applies one textual value; `where` names the source for the message.
void apply_text(Settings& out, const SettingSpec& s, std::string_view value,
                std::string_view where) {
  auto fail = [&] {
    throw SettingsError(fmt::format("setting {}: expected {}, got \"{}\" ({})", s.name,
                                    describe_type(s), value, where));
  };
  std::optional<int64_t> n;
  switch (s.type) {
    case T::kString:
      out.*s.text_field = std::string(value);
      return;
    case T::kAddress:
      if (!valid_address(value)) fail();
      out.*s.text_field = std::string(value);
      return;
    case T::kCidrList:
      try {
        CidrList::parse(value);
      } catch (const CidrError& e) {
        throw SettingsError(fmt::format("setting {}: {} ({})", s.name, e.what(), where));
      }
      out.*s.text_field = std::string(value);
      return;
    case T::kEnum:
      for (auto c : s.choices)
        if (c == value) {
          out.*s.text_field = std::string(value);
          return;
        }
      fail();
      return;
    case T::kInt: {
      int64_t v = 0;
      if (parse_int(value, v)) n = v;
      break;
    }
    case T::kSize:
      n = parse_size_bytes(value);
      break;
    case T::kDuration:
      n = parse_duration_ms(value);
      break;
  }
  if (!n || *n < s.min || *n > s.max) fail();
  out.*s.number_field = *n;
}

const SettingSpec* find_spec(std::string_view name) {
  for (const auto& s : setting_specs())
    if (s.name == name) return &s;
  return nullptr;
}

void apply_json(Settings& out, const nlohmann::json& j, const std::string& prefix,
                const std::string& file) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string name = prefix.empty() ? it.key() : prefix + "." + it.key();
    const SettingSpec* spec = find_spec(name);
    if (!spec && it.value().is_object() && prefix.empty()) {
      apply_json(out, it.value(), name, file);
      continue;
    }
    if (!spec) throw SettingsError(fmt::format("setting {}: unknown setting (in {})", name, file));
    apply_setting_json(out, *spec, it.value(), "in " + file);
  }
}

}  // namespace

const std::vector<SettingSpec>& setting_specs() {
  static const std::vector<SettingSpec> specs = build_specs();
  return specs;
}

const SettingSpec* find_setting(std::string_view name) {
  return find_spec(name);
}

void apply_setting_json(Settings& out, const SettingSpec& spec, const nlohmann::json& v,
                        std::string_view where) {
  if (v.is_string()) {
    apply_text(out, spec, v.get<std::string>(), where);
  } else if (v.is_number_integer() && spec.type != T::kString && spec.type != T::kEnum &&
             spec.type != T::kAddress && spec.type != T::kCidrList) {
    // A bare JSON number means bytes for sizes and milliseconds for durations.
    int64_t x = v.get<int64_t>();
    apply_text(out, spec, spec.type == T::kDuration ? std::to_string(x) + "ms" : std::to_string(x),
               where);
  } else {
    throw SettingsError(fmt::format("setting {}: expected {}, got {} ({})", spec.name,
                                    describe_type(spec), v.dump(), where));
  }
}

nlohmann::json setting_json(const Settings& s, const SettingSpec& spec) {
  if (spec.text_field) return s.*spec.text_field;
  return s.*spec.number_field;
}

std::string env_name(std::string_view setting) {
  std::string e = "METRICSD_";
  for (char c : setting)
    e += (c == '.') ? '_' : static_cast<char>(std::toupper(c));
  return e;
}

std::string flag_name(std::string_view setting) {
  std::string f = "--";
  for (char c : setting)
    f += (c == '.' || c == '_') ? '-' : c;
  return f;
}

std::optional<int64_t> parse_duration_ms(std::string_view text) {
  return parse_with_units(
      text, {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", kDay}, {"w", 7 * kDay}},
      0);
}

std::optional<int64_t> parse_size_bytes(std::string_view text) {
  return parse_with_units(text,
                          {{"B", 1},
                           {"KiB", int64_t{1} << 10},
                           {"MiB", int64_t{1} << 20},
                           {"GiB", int64_t{1} << 30},
                           {"KB", 1000},
                           {"MB", 1'000'000},
                           {"GB", 1'000'000'000}},
                          1);
}

namespace {

// Rules between settings, checked once every source is applied.
void check_combinations(const Settings& s) {
  if (s.auth_mode == "disabled" && !is_loopback_listen(s.listen))
    throw SettingsError(fmt::format(
        "setting auth.mode: disabled is refused because listen ({}) is not a loopback address",
        s.listen));
  if (s.tls_cert_file.empty() != s.tls_key_file.empty())
    throw SettingsError("settings tls.cert_file and tls.key_file: set both or neither");
  if (!valid_label_key(s.ingest_prometheus_node_label) ||
      s.ingest_prometheus_node_label == "__name__")
    throw SettingsError(fmt::format(
        "setting ingest.prometheus_node_label: \"{}\" is no label name ([A-Za-z_][A-Za-z0-9_]*, "
        "not __name__)",
        s.ingest_prometheus_node_label));
  if (!s.database_embedded_sql_listen.empty() && (!valid_address(s.database_embedded_sql_listen) ||
                                                  s.database_embedded_sql_listen.ends_with(":0")))
    throw SettingsError(fmt::format(
        "setting database.embedded_sql_listen: expected host:port with a port from 1 to 65535 "
        "(e.g. 127.0.0.1:5433), or empty, got \"{}\"",
        s.database_embedded_sql_listen));
}

}  // namespace

bool is_loopback_listen(std::string_view listen) {
  auto colon = listen.rfind(':');
  std::string_view host = listen.substr(0, colon == std::string_view::npos ? 0 : colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

Settings resolve_settings(const SettingsSources& src) {
  Settings out;
  for (const auto& s : setting_specs())
    apply_text(out, s, s.default_text, "built-in default");
  if (src.file_text) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(*src.file_text, nullptr, true, /*ignore_comments=*/true);
    } catch (const nlohmann::json::parse_error& e) {
      throw SettingsError(
          fmt::format("config file {}: not valid JSON: {}", src.file_name, e.what()));
    }
    if (!j.is_object())
      throw SettingsError(fmt::format("config file {}: expected a JSON object", src.file_name));
    apply_json(out, j, "", src.file_name);
  }
  for (const auto& [var, value] : src.env) {
    const SettingSpec* spec = nullptr;
    for (const auto& s : setting_specs())
      if (env_name(s.name) == var) spec = &s;
    if (!spec)
      throw SettingsError(
          fmt::format("environment {}: no such setting (see metricsd --help)", var));
    apply_text(out, *spec, value, "from environment " + var);
  }
  for (const auto& [name, value] : src.flags) {
    const SettingSpec* spec = find_spec(name);
    if (!spec) throw SettingsError(fmt::format("setting {}: unknown setting", name));
    apply_text(out, *spec, value, "from flag " + flag_name(name));
  }
  check_combinations(out);
  return out;
}

std::string example_config() {
  std::string out =
      "// metricsd settings: every setting at its default. Generated by\n"
      "// `metricsd --example-config`; copy, keep what you change, pass with --config.\n"
      "// Each setting can also be given as METRICSD_<SECTION>_<KEY> or --<section>-<key>.\n{\n";
  std::string section;
  const auto& specs = setting_specs();
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& s = specs[i];
    auto dot = s.name.find('.');
    std::string sec = dot == std::string_view::npos ? "" : std::string(s.name.substr(0, dot));
    std::string key = std::string(dot == std::string_view::npos ? s.name : s.name.substr(dot + 1));
    if (sec != section) {
      if (!section.empty()) out += "  },\n";
      if (!sec.empty()) out += fmt::format("  \"{}\": {{\n", sec);
      section = sec;
    }
    std::string indent = sec.empty() ? "  " : "    ";
    bool last_in_block = i + 1 == specs.size() || [&] {
      auto nd = specs[i + 1].name.find('.');
      std::string ns =
          nd == std::string_view::npos ? "" : std::string(specs[i + 1].name.substr(0, nd));
      return ns != sec;
    }();
    std::string value = (s.type == T::kInt) ? std::string(s.default_text)
                                            : nlohmann::json(std::string(s.default_text)).dump();
    out += fmt::format("{}// {}\n{}\"{}\": {}{}\n", indent, s.help, indent, key, value,
                       last_in_block && (sec.empty() ? i + 1 == specs.size() : true) ? "" : ",");
  }
  if (!section.empty()) out += "  }\n";
  out += "}\n";
  return out;
}

std::string settings_help() {
  std::string out;
  for (const auto& s : setting_specs()) {
    out += fmt::format("  {:<32} {}\n  {:<32} default {}; env {}\n", flag_name(s.name), s.help, "",
                       s.default_text.empty() ? "(empty)" : s.default_text, env_name(s.name));
  }
  return out;
}

}  // namespace metricsd
