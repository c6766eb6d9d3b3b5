// Settings: the one table of every metricsd setting (name, type, default, help) and the
// layered resolution defaults < JSON file < METRICSD_* environment < command-line flags.
// Pure logic, no I/O: callers hand in the file's text and the environment.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metricsd {

// Resolved settings. Sizes are bytes, durations milliseconds.
struct Settings {
  std::string listen;
  std::string data_dir;
  int64_t threads = 0;  // 0: one per core
  std::string log_level;
  std::string log_format;
  int64_t log_queue_messages = 0;
  std::string database_url;
  std::string database_read_url;
  int64_t database_pool_size = 0;
  int64_t database_embedded_shared_buffers = 0;  // bytes
  int64_t database_embedded_restart_timeout_ms = 0;
  std::string database_embedded_sql_listen;  // host:port for SQL readers, or empty (off)
  int64_t database_read_pool_size = 0;
  int64_t database_max_waiting = 0;
  int64_t database_connect_timeout_ms = 0;
  int64_t disk_min_free_bytes = 0;  // 0: writes are never refused for disk space
  int64_t disk_check_interval_ms = 0;
  int64_t http_max_body_bytes = 0;
  int64_t http_max_header_bytes = 0;
  int64_t http_header_timeout_ms = 0;
  int64_t http_body_timeout_ms = 0;
  int64_t http_idle_timeout_ms = 0;
  int64_t http_max_connections = 0;
  int64_t shutdown_grace_ms = 0;
  int64_t ingest_max_queue_samples = 0;
  int64_t ingest_max_future_s = 0;
  int64_t ingest_compaction_interval_ms = 0;
  int64_t ingest_compaction_grace_ms = 0;
  int64_t ingest_max_head_samples = 0;
  int64_t query_timeout_ms = 0;
  int64_t query_cache_mb = 0;
  int64_t ingest_line_cache_mb = 0;
  std::string ingest_prometheus_node_label;  // the remote-write label naming the node
  int64_t limits_max_series = 0;
  int64_t limits_max_series_per_node = 0;
  int64_t limits_max_inflight_body_bytes = 0;
  int64_t nodes_stale_after_s = 0;
  int64_t nodes_offline_after_s = 0;
  int64_t retention_raw_ms = 0;
  int64_t retention_rollup_1m_ms = 0;
  int64_t retention_rollup_1h_ms = 0;
  int64_t stream_flush_ms = 0;
  int64_t stream_max_clients = 0;
  int64_t stream_max_client_queue = 0;
  int64_t stream_max_lag_ms = 0;
  int64_t stream_max_channels = 0;
  int64_t stream_max_message_bytes = 0;
  int64_t stream_ping_interval_ms = 0;
  int64_t stream_max_snapshot_series = 0;
  int64_t stream_max_pending_samples = 0;
  std::string auth_mode;  // "required" or "disabled"
  int64_t auth_cache_ttl_ms = 0;
  int64_t auth_cache_max_tokens = 0;
  int64_t rate_limit_per_token_rps = 0;
  int64_t rate_limit_burst = 0;
  int64_t rate_limit_per_token_samples_per_s = 0;
  int64_t rate_limit_per_addr_rps = 0;
  int64_t http_max_connections_per_addr = 0;
  int64_t http_max_url_bytes = 0;
  int64_t http_max_header_count = 0;
  std::string http_cors_origins;  // comma-separated origins, "*", or empty (none)
  // Comma-separated CIDR ranges (core/network_policy.hpp); empty: no rule.
  std::string network_deny;
  std::string network_allow;
  std::string network_allow_write;
  std::string network_allow_operator;
  std::string network_allow_admin;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string alerts_rules_file;
  std::string alerts_smtp_url;
  std::string alerts_smtp_username;
  std::string alerts_smtp_password;
  std::string alerts_smtp_from;
};

// kCidrList: comma-separated CIDR ranges (core/cidr.hpp), each checked.
enum class SettingType { kString, kInt, kSize, kDuration, kEnum, kAddress, kCidrList };

struct SettingSpec {
  std::string_view name;  // "section.key" or "key"
  SettingType type;
  std::string_view default_text;
  std::string_view help;
  int64_t min = 0;
  int64_t max = INT64_MAX;
  std::vector<std::string_view> choices;  // kEnum only
  std::string Settings::*text_field = nullptr;
  int64_t Settings::*number_field = nullptr;
};

// Every setting, in documentation order.
const std::vector<SettingSpec>& setting_specs();
// The setting of that name, or nullptr.
const SettingSpec* find_setting(std::string_view name);
// Applies one setting given as the config file would give it: a string, or a bare number
// (bytes for sizes, milliseconds for durations). Throws SettingsError naming it and `where`.
void apply_setting_json(Settings& out, const SettingSpec& spec, const nlohmann::json& value,
                        std::string_view where);
// Its value in `s` as the config file could give it (durations in ms, sizes in bytes).
nlohmann::json setting_json(const Settings& s, const SettingSpec& spec);

// "http.max_body_bytes" -> "METRICSD_HTTP_MAX_BODY_BYTES" / "--http-max-body-bytes".
std::string env_name(std::string_view setting);
std::string flag_name(std::string_view setting);

// A setting that could not be applied. what() is the one line shown to the user.
class SettingsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SettingsSources {
  std::optional<std::string> file_text;  // the JSON file's contents, if --config was given
  std::string file_name;                 // for messages
  std::vector<std::pair<std::string, std::string>> env;    // METRICSD_* variables only
  std::vector<std::pair<std::string, std::string>> flags;  // setting name -> text
};

// Applies defaults, then each source in precedence order. Throws SettingsError.
Settings resolve_settings(const SettingsSources& sources);

// The documented example configuration (JSON with // comments), every setting at default.
std::string example_config();

// The --help table of settings.
std::string settings_help();

// True when `listen` ("host:port") names a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback_listen(std::string_view listen);

// Parsers shared with request handling ("7d", "16MiB"). nullopt when malformed.
std::optional<int64_t> parse_duration_ms(std::string_view text);
std::optional<int64_t> parse_size_bytes(std::string_view text);

}  // namespace metricsd
