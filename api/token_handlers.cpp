// Tokens and audit endpoints; see token_handlers.hpp.
#include "api/token_handlers.hpp"

#include <charconv>

#include "api/json_body.hpp"
#include "api/query_params.hpp"
#include "core/clock.hpp"
#include "core/names.hpp"
#include "core/time_parse.hpp"
#include "core/token.hpp"
#include "storage/token_store.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

json optional_time(const std::optional<int64_t>& ms) {
  return ms ? json(format_rfc3339_ms(*ms)) : json(nullptr);
}

json token_json(const storage::TokenRow& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"role", std::string(role_name(t.role))},
          {"node", t.node_id.empty() ? json(nullptr) : json(t.node_id)},
          {"created_at", format_rfc3339_ms(t.created_ms)},
          {"last_used_at", optional_time(t.last_used_ms)},
          {"revoked_at", optional_time(t.revoked_ms)}};
}

void require_ready(storage::Database& db) {
  if (!db.ready()) throw ApiError::unavailable(db.not_ready_reason(), 2);
}

}  // namespace

TokenHandlers::TokenHandlers(storage::Database& db, std::function<void(int64_t)> on_revoke)
    : db_(db), on_revoke_(std::move(on_revoke)) {}

boost::asio::awaitable<Response> TokenHandlers::create(Request& req) {
  only_params(req, {});
  json body = json_object_body(req, {"name", "role", "node"});
  if (!body.contains("name")) throw bad_param("name", "required: a name for the token");
  if (!body.contains("role"))
    throw bad_param("role", "required: one of admin, operator, viewer, agent");
  std::string name = string_field(body, "name", "", 1, 100);
  auto role = parse_role(string_field(body, "role", "", 1, 16));
  if (!role) throw bad_param("role", "must be one of admin, operator, viewer, agent");
  std::string node = string_field(body, "node", "", 0, 128);
  if (!node.empty()) {
    if (*role != Role::kAgent) throw bad_param("node", "only agent tokens are bound to a node");
    if (!valid_node_id(node)) throw bad_param("node", "not a valid node id");
  }
  require_ready(db_);
  std::string secret = generate_token_secret();
  auto audit = audit_entry(req, "token.create");
  audit.details_json =
      json{{"name", name}, {"role", std::string(role_name(*role))}, {"node", node}}.dump();
  std::string hash = hash_token_secret(secret);
  // Lambdas given to run() capture by reference only: GCC 12 destroys a co_await
  // temporary with a non-trivial destructor twice.
  auto row = co_await db_.pool().run([&](pqxx::connection& c) {
    return storage::create_token(c, name, *role, node, hash, audit);
  });
  json out = token_json(row);
  out["token"] = secret;  // shown this once; only its hash is stored
  co_return json_response(201, out);
}

boost::asio::awaitable<Response> TokenHandlers::list(Request& req) {
  only_params(req, {"include_revoked"});
  bool all = false;
  if (auto v = req.query_param("include_revoked")) {
    if (*v != "true" && *v != "false") throw bad_param("include_revoked", "must be true or false");
    all = *v == "true";
  }
  require_ready(db_);
  auto rows =
      co_await db_.pool().run([&all](pqxx::connection& c) { return storage::list_tokens(c, all); });
  json tokens = json::array();
  for (const auto& t : rows)
    tokens.push_back(token_json(t));
  co_return json_response(200, {{"tokens", tokens}});
}

boost::asio::awaitable<Response> TokenHandlers::revoke(Request& req) {
  only_params(req, {});
  std::string_view text = req.path_param("id");
  int64_t id = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || p != text.data() + text.size() || id <= 0)
    throw bad_param("id", "must be a token id (a positive integer)");
  require_ready(db_);
  auto audit = audit_entry(req, "token.revoke");
  auto row = co_await db_.pool().run(
      [&id, &audit](pqxx::connection& c) { return storage::revoke_token(c, id, audit); });
  if (!row) throw ApiError::not_found("no live token with id " + std::to_string(id));
  on_revoke_(id);
  co_return json_response(200, token_json(*row));
}

boost::asio::awaitable<Response> TokenHandlers::audit(Request& req) {
  storage::AuditFilter f;
  int64_t now = wall_ms();
  for (const auto& [k, v] : req.query) {
    if (k == "action") {
      if (v.empty() || v.size() > 64 || !valid_text(v))
        throw bad_param("action", "must be 1 to 64 bytes of UTF-8 without NUL");
      f.action = v;
    } else if (k == "token") {
      if (v.empty() || v.size() > 100 || !valid_text(v))
        throw bad_param("token", "must be a token name (1 to 100 bytes of UTF-8 without NUL)");
      f.token_name = v;
    } else if (k == "outcome") {
      if (v != "ok" && v != "denied" && v != "failed")
        throw bad_param("outcome", "must be ok, denied or failed");
      f.outcome = v;
    } else if (!page_param(req, k, v, now, f) && !credential_param(k)) {
      throw bad_param(
          k, "unknown parameter (expected action, token, outcome, from, to, limit, cursor)");
    }
  }
  check_page_range(f.from_ms, f.to_ms);
  require_ready(db_);
  auto rows =
      co_await db_.pool().run([&f](pqxx::connection& c) { return storage::list_audit(c, f); });
  json entries = json::array();
  for (const auto& a : rows)
    entries.push_back({{"id", a.id},
                       {"ts", format_rfc3339_ms(a.ts_ms)},
                       {"token_id", a.entry.token_id ? json(*a.entry.token_id) : json(nullptr)},
                       {"token_name", a.entry.token_name},
                       {"source", a.entry.source_addr},
                       {"action", a.entry.action},
                       {"target", a.entry.target},
                       {"outcome", a.entry.outcome},
                       {"details", json::parse(a.entry.details_json, nullptr, false)}});
  json next = rows.size() == static_cast<size_t>(f.limit) ? json(std::to_string(rows.back().id))
                                                          : json(nullptr);
  co_return json_response(200, {{"entries", entries}, {"next_cursor", next}});
}

}  // namespace metricsd::api
