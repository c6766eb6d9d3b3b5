// Command endpoints; see command_handlers.hpp.
#include "api/command_handlers.hpp"

#include <charconv>

#include "api/json_body.hpp"
#include "api/query_params.hpp"
#include "core/names.hpp"
#include "core/time_parse.hpp"
#include "storage/command_store.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

constexpr size_t kMaxArgsBytes = 16 * 1024;

json optional_time(const std::optional<int64_t>& ms) {
  return ms ? json(format_rfc3339_ms(*ms)) : json(nullptr);
}

json command_json(const storage::CommandRow& c) {
  return {{"id", c.id},
          {"node", c.node_id},
          {"type", c.type},
          {"args", json::parse(c.args_json, nullptr, false)},
          {"status", c.status},
          {"message", c.message},
          {"created_by", c.created_by},
          {"created_at", format_rfc3339_ms(c.created_ms)},
          {"delivered_at", optional_time(c.delivered_ms)},
          {"acked_at", optional_time(c.acked_ms)}};
}

std::string node_param(const Request& req) {
  std::string node(req.path_param("node_id"));
  if (!valid_node_id(node)) throw bad_param("node_id", "not a valid node id");
  return node;
}

// The command's type and args from the body.
std::pair<std::string, std::string> command_body(const Request& req) {
  json body = json_object_body(req, {"type", "args"});
  if (!body.contains("type"))
    throw bad_param("type", "required: one of pause, resume, stop, restart");
  std::string type = string_field(body, "type", "", 1, 32);
  if (type != "pause" && type != "resume" && type != "stop" && type != "restart")
    throw bad_param("type", "must be one of pause, resume, stop, restart");
  json args = body.value("args", json::object());
  if (!args.is_object()) throw bad_param("args", "must be a JSON object");
  std::string args_text = args.dump();
  if (args_text.size() > kMaxArgsBytes)
    throw bad_param("args", "larger than " + std::to_string(kMaxArgsBytes) + " bytes");
  return {type, args_text};
}

void require_ready(storage::Database& db) {
  if (!db.ready()) throw ApiError::unavailable(db.not_ready_reason(), 2);
}

}  // namespace

boost::asio::awaitable<Response> CommandHandlers::create(Request& req) {
  only_params(req, {});
  std::string node = node_param(req);
  auto [type, args] = command_body(req);
  require_ready(db_);
  auto audit = audit_entry(req, "command.create");
  audit.details_json = json{{"type", type}, {"args", json::parse(args)}}.dump();
  auto row = co_await db_.pool().run(
      [&](pqxx::connection& c) { return storage::create_command(c, node, type, args, audit); });
  if (!row) throw ApiError::not_found("no node " + node + " (it must have sent a heartbeat)");
  co_return json_response(201, command_json(*row));
}

boost::asio::awaitable<Response> CommandHandlers::create_fleet(Request& req) {
  only_params(req, {});
  auto [type, args] = command_body(req);
  require_ready(db_);
  auto audit = audit_entry(req, "command.fleet");
  audit.details_json = json{{"type", type}, {"args", json::parse(args)}}.dump();
  auto rows = co_await db_.pool().run(
      [&](pqxx::connection& c) { return storage::create_fleet_command(c, type, args, audit); });
  json out = json::array();
  for (const auto& r : rows)
    out.push_back(command_json(r));
  co_return json_response(201, {{"count", rows.size()}, {"commands", out}});
}

boost::asio::awaitable<Response> CommandHandlers::list(Request& req) {
  only_params(req, {"status", "limit", "cursor"});
  std::string node = node_param(req);
  std::optional<std::string> status;
  if (auto s = req.query_param("status")) {
    if (*s != "pending" && *s != "delivered" && *s != "done" && *s != "failed")
      throw bad_param("status", "must be pending, delivered, done or failed");
    status = std::string(*s);
  }
  int limit = static_cast<int>(int_param(req, "limit", 100, 1, 1000));
  std::optional<int64_t> before;
  if (req.query_param("cursor")) before = int_param(req, "cursor", 0, 1, INT64_MAX);
  require_ready(db_);
  auto rows = co_await db_.pool().run(
      [&](pqxx::connection& c) { return storage::list_commands(c, node, status, before, limit); });
  json out = json::array();
  for (const auto& r : rows)
    out.push_back(command_json(r));
  json next = rows.size() == static_cast<size_t>(limit) ? json(std::to_string(rows.back().id))
                                                        : json(nullptr);
  co_return json_response(200, {{"commands", out}, {"next_cursor", next}});
}

boost::asio::awaitable<Response> CommandHandlers::ack(Request& req) {
  only_params(req, {});
  std::string node = node_param(req);
  std::string_view text = req.path_param("id");
  int64_t id = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || p != text.data() + text.size() || id <= 0)
    throw bad_param("id", "must be a command id (a positive integer)");
  json body = json_object_body(req, {"status", "message"});
  if (!body.contains("status")) throw bad_param("status", "required: done or failed");
  std::string status = string_field(body, "status", "", 1, 16);
  if (status != "done" && status != "failed") throw bad_param("status", "must be done or failed");
  std::string message = string_field(body, "message", "", 0, 4096);
  require_ready(db_);
  auto audit = audit_entry(req, "command.ack");
  audit.details_json = json{{"status", status}}.dump();
  auto result = co_await db_.pool().run([&](pqxx::connection& c) {
    return storage::ack_command(c, node, id, status, message, audit);
  });
  if (result == storage::AckResult::kNotFound)
    throw ApiError::not_found("no command " + std::to_string(id) + " for node " + node);
  if (result == storage::AckResult::kAlreadyAcked)
    throw ApiError(409, "conflict", "command " + std::to_string(id) + " was already acknowledged");
  co_return json_response(200, {{"id", id}, {"node", node}, {"status", status}});
}

}  // namespace metricsd::api
