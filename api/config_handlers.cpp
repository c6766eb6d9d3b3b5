// The configuration endpoints; see config_handlers.hpp.
#include "api/config_handlers.hpp"

#include <spdlog/spdlog.h>

#include <regex>

#include "api/json_body.hpp"
#include "api/query_params.hpp"
#include "core/log_escape.hpp"
#include "storage/token_store.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

// Every setting, nested by section as in the config file.
json settings_json(const Settings& s) {
  json out = json::object();
  for (const auto& spec : setting_specs()) {
    std::string name(spec.name);
    json value = setting_json(s, spec);
    if (name == "database.url" || name == "database.read_url")
      value = mask_password(value.get<std::string>());
    if (name == "alerts.smtp_password" && !value.get<std::string>().empty()) value = "***";
    auto dot = name.find('.');
    if (dot == std::string::npos)
      out[name] = value;
    else
      out[name.substr(0, dot)][name.substr(dot + 1)] = value;
  }
  return out;
}

json live_names() {
  json names = json::array();
  for (auto n : LiveSettings::names())
    names.push_back(std::string(n));
  return names;
}

}  // namespace

std::string mask_password(const std::string& conninfo) {
  // postgres://user:secret@host/db and password=secret (quoted or not).
  static const std::regex url(R"(^(postgres(?:ql)?://[^:/@]*):[^@]*@)");
  static const std::regex kv(R"((^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+))");
  std::string out = std::regex_replace(conninfo, url, "$1:***@");
  return std::regex_replace(out, kv, "$1password=***");
}

ConfigHandlers::ConfigHandlers(storage::Database& db, LiveSettings& live) : db_(db), live_(live) {}

boost::asio::awaitable<Response> ConfigHandlers::get(Request& req) {
  only_params(req, {});
  co_return json_response(200, {{"settings", settings_json(live_.current())},
                                {"changeable", live_names()},
                                {"units", "durations in milliseconds, sizes in bytes"}});
}

boost::asio::awaitable<Response> ConfigHandlers::update(Request& req) {
  only_params(req, {});
  json body = json_object_body(req, {"settings"});
  auto it = body.find("settings");
  if (it == body.end() || !it->is_object() || it->empty())
    throw bad_param("settings",
                    "must be an object of setting name to new value, e.g. "
                    "{\"settings\": {\"retention.raw\": \"14d\"}}");
  std::vector<LiveSettings::Change> changes;
  try {
    changes = live_.plan(*it);
  } catch (const SettingsError& e) {
    // Name the setting at fault: the first that fails alone (none: their combination).
    std::string field = "settings";
    for (const auto& [k, v] : it->items()) {
      try {
        live_.plan(json{{k, v}});
      } catch (const SettingsError&) {
        field = "settings." + k;
        break;
      }
    }
    throw bad_param(field, e.what());
  }
  json changed = json::object();
  for (const auto& c : changes)
    changed[c.name] = {{"from", c.from}, {"to", c.to}};
  if (!changes.empty()) {
    if (!db_.ready()) throw ApiError::unavailable(db_.not_ready_reason(), 2);
    auto audit = audit_entry(req, "config.update");
    audit.details_json = json{{"changed", changed}}.dump();
    co_await db_.pool().run([&](pqxx::connection& c) { storage::insert_audit(c, audit); });
    live_.apply(changes);
    spdlog::info("settings changed at run time by token \"{}\" from {}: {}",
                 escape_for_log(audit.token_name), req.remote_addr,
                 escape_for_log(changed.dump(-1, ' ', false, json::error_handler_t::replace)));
  }
  co_return json_response(200, {{"changed", changed},
                                {"settings", settings_json(live_.current())},
                                {"note",
                                 "changes hold until the daemon stops; put them in the "
                                 "config file to keep them"}});
}

}  // namespace metricsd::api
