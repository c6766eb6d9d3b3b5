// Receiver and silence endpoints; see alert_handlers.hpp.
#include "api/alert_handlers.hpp"
#include "api/json_body.hpp"
#include "api/query_params.hpp"
#include "core/alert_rule.hpp"
#include "core/clock.hpp"
#include "core/time_parse.hpp"
#include "notify/alert_receiver.hpp"
#include "storage/alert_store.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;
using storage::SpecChange;
using storage::SpecTable;

constexpr int kMaxReceivers = 100;
constexpr int kMaxSilences = 10'000;

json receiver_row_json(const storage::SpecRow& r) {
  json spec = json::parse(r.spec_json);
  spec["name"] = r.name;
  json j = notify::alert_receiver_json(notify::parse_alert_receiver(spec, true), false);
  j["id"] = r.id;
  j["enabled"] = r.enabled;
  j["version"] = r.version;
  j["updated_at"] = format_rfc3339_ms(r.updated_ms);
  j["updated_by"] = r.updated_by;
  return j;
}

struct ReceiverBody {
  notify::AlertReceiver receiver;
  storage::SpecRow row;
};
ReceiverBody receiver_body(const Request& req, bool email_configured) {
  json body = json_object_body(
      req, {"name", "kind", "url", "headers", "secret", "timeout", "to", "severities", "rules",
            "nodes", "send_resolved", "max_attempts", "enabled"});
  ReceiverBody out;
  if (body.contains("enabled")) {
    if (!body["enabled"].is_boolean()) throw bad_param("enabled", "must be true or false");
    out.row.enabled = body["enabled"].get<bool>();
    body.erase("enabled");
  }
  try {
    out.receiver = notify::parse_alert_receiver(body, email_configured);
  } catch (const AlertRuleError& e) {
    throw bad_param(e.field, e.message);
  }
  out.row.name = out.receiver.name;
  return out;
}

// The spec as stored: everything, secrets included (the table is read by admins and the
// evaluator only; GET shows them hidden).
std::string stored_spec(const notify::AlertReceiver& r) {
  json j = notify::alert_receiver_json(r, true);
  j.erase("name");
  return j.dump();
}

json silence_json(const AlertSilence& s, int64_t now_ms) {
  return {{"id", s.id},
          {"matchers", alert_silence_matchers_json(s)},
          {"starts_at", format_rfc3339_ms(s.starts_ms)},
          {"ends_at", format_rfc3339_ms(s.ends_ms)},
          {"active", s.active(now_ms)},
          {"comment", s.comment},
          {"created_by", s.created_by}};
}

void refuse_receiver_change(SpecChange result, int64_t id, const std::string& name) {
  if (result == SpecChange::kNotFound)
    throw ApiError::not_found("no alert receiver " + std::to_string(id));
  throw ApiError(409, "conflict", "another alert receiver is named " + name);
}

}  // namespace

boost::asio::awaitable<Response> AlertHandlers::receivers(Request& req) {
  only_params(req, {});
  require_alerts_ready(db_);
  auto rows = co_await db_.pool().run(
      [](pqxx::connection& c) { return storage::list_spec_rows(c, SpecTable::kReceivers); });
  json out = json::array();
  for (const auto& r : rows)
    out.push_back(receiver_row_json(r));
  co_return json_response(200, {{"receivers", out}});
}

boost::asio::awaitable<Response> AlertHandlers::create_receiver(Request& req) {
  only_params(req, {});
  ReceiverBody b = receiver_body(req, hooks_.email_configured);
  if (b.receiver.secret == notify::kHiddenValue) throw bad_param("secret", "give the secret");
  for (const auto& [k, v] : b.receiver.headers)
    if (v == notify::kHiddenValue) throw bad_param("headers." + k, "give the value");
  b.row.spec_json = stored_spec(b.receiver);
  require_alerts_ready(db_);
  auto audit = audit_entry(req, "alert_receiver.create");
  auto row = co_await db_.pool().run([&](pqxx::connection& c) {
    if (storage::list_spec_rows(c, SpecTable::kReceivers).size() >= kMaxReceivers)
      throw ApiError(409, "conflict",
                     "at most " + std::to_string(kMaxReceivers) + " alert receivers");
    return storage::create_spec_row(c, SpecTable::kReceivers, b.row, audit);
  });
  if (!row)
    throw ApiError(409, "conflict", "an alert receiver named " + b.receiver.name + " exists");
  hooks_.changed();
  co_return json_response(201, receiver_row_json(*row));
}

boost::asio::awaitable<Response> AlertHandlers::update_receiver(Request& req) {
  only_params(req, {});
  int64_t id = alert_id_param(req, "a receiver");
  ReceiverBody b = receiver_body(req, hooks_.email_configured);
  require_alerts_ready(db_);
  auto audit = audit_entry(req, "alert_receiver.update");
  storage::SpecRow row;
  auto result = co_await db_.pool().run([&](pqxx::connection& c) {
    // Values shown hidden and given back hidden keep what is stored.
    if (auto old = storage::find_spec_row(c, SpecTable::kReceivers, id)) {
      json spec = json::parse(old->spec_json);
      spec["name"] = old->name;
      notify::keep_hidden_values(b.receiver, notify::parse_alert_receiver(spec, true));
    }
    if (b.receiver.secret == notify::kHiddenValue) throw bad_param("secret", "give the secret");
    for (const auto& [k, v] : b.receiver.headers)
      if (v == notify::kHiddenValue) throw bad_param("headers." + k, "give the value");
    b.row.spec_json = stored_spec(b.receiver);
    return storage::update_spec_row(c, SpecTable::kReceivers, id, b.row, audit, &row);
  });
  if (result != SpecChange::kDone) refuse_receiver_change(result, id, b.receiver.name);
  hooks_.changed();
  co_return json_response(200, receiver_row_json(row));
}

boost::asio::awaitable<Response> AlertHandlers::delete_receiver(Request& req) {
  only_params(req, {});
  int64_t id = alert_id_param(req, "a receiver");
  require_alerts_ready(db_);
  auto audit = audit_entry(req, "alert_receiver.delete");
  auto result = co_await db_.pool().run([&](pqxx::connection& c) {
    return storage::delete_spec_row(c, SpecTable::kReceivers, id, audit);
  });
  if (result != SpecChange::kDone) refuse_receiver_change(result, id, "");
  hooks_.changed();
  co_return json_response(200, {{"id", id}, {"deleted", true}});
}

boost::asio::awaitable<Response> AlertHandlers::silences(Request& req) {
  only_params(req, {"ended", "limit"});
  bool ended = false;
  if (auto e = req.query_param("ended")) {
    if (*e != "true" && *e != "false") throw bad_param("ended", "must be true or false");
    ended = *e == "true";
  }
  int limit = static_cast<int>(int_param(req, "limit", 100, 1, 1000));
  require_alerts_ready(db_);
  auto rows = co_await db_.pool().run(
      [&](pqxx::connection& c) { return storage::list_silences(c, ended, limit); });
  json out = json::array();
  int64_t now = wall_ms();
  for (const auto& s : rows)
    out.push_back(silence_json(s, now));
  co_return json_response(200, {{"silences", out}});
}

boost::asio::awaitable<Response> AlertHandlers::create_silence(Request& req) {
  only_params(req, {});
  json body = json_object_body(req, {"matchers", "starts_at", "ends_at", "duration", "comment"});
  AlertSilence s;
  try {
    s = parse_alert_silence(body, wall_ms());
  } catch (const AlertRuleError& e) {
    throw bad_param(e.field, e.message);
  }
  require_alerts_ready(db_);
  auto audit = audit_entry(req, "alert_silence.create");
  auto stored = co_await db_.pool().run([&](pqxx::connection& c) {
    if (storage::list_silences(c, false, kMaxSilences).size() >= kMaxSilences)
      throw ApiError(409, "conflict",
                     "at most " + std::to_string(kMaxSilences) + " silences at a time");
    return storage::create_silence(c, s, audit);
  });
  hooks_.changed();
  co_return json_response(201, silence_json(stored, wall_ms()));
}

boost::asio::awaitable<Response> AlertHandlers::expire_silence(Request& req) {
  only_params(req, {});
  int64_t id = alert_id_param(req, "a silence");
  require_alerts_ready(db_);
  auto audit = audit_entry(req, "alert_silence.expire");
  bool expired = co_await db_.pool().run(
      [&](pqxx::connection& c) { return storage::expire_silence(c, id, audit); });
  if (!expired) throw ApiError::not_found("no silence " + std::to_string(id) + " in effect");
  hooks_.changed();
  co_return json_response(200, {{"id", id}, {"expired", true}});
}

}  // namespace metricsd::api
