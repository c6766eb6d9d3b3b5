// Control request bodies; see json_body.hpp.
#include "api/json_body.hpp"

#include "api/query_params.hpp"

namespace metricsd::api {

void check_json_depth(std::string_view text, const std::string& field) {
  if (json_nesting_depth(text) > kMaxJsonDepth)
    throw bad_param(field, "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
}

nlohmann::json json_object_body(const Request& req,
                                std::initializer_list<std::string_view> allowed) {
  if (req.body.empty()) return nlohmann::json::object();
  auto ct = req.header("content-type");
  if (ct && ct->find("json") == std::string_view::npos)
    throw ApiError(415, "unsupported_media_type",
                   "the body must be JSON (Content-Type: application/json)");
  check_json_depth(req.body, "body");
  nlohmann::json doc = nlohmann::json::parse(req.body, nullptr, false);
  if (doc.is_discarded())
    throw ApiError::invalid_argument("the body is not valid JSON: " + json_parse_error(req.body),
                                     {{{"field", "body"}}});
  if (!doc.is_object())
    throw ApiError::invalid_argument("the body must be a JSON object", {{{"field", "body"}}});
  for (const auto& [k, v] : doc.items()) {
    bool known = false;
    for (auto a : allowed)
      known = known || a == k;
    if (!known) {
      std::string list;
      for (auto a : allowed)
        list += (list.empty() ? "" : ", ") + std::string(a);
      throw bad_param(k, "unknown field (expected " + list + ")");
    }
  }
  if (auto at = find_nul_string(doc, ""))
    throw bad_param(*at, "holds a NUL character (\\u0000), which cannot be stored");
  return doc;
}

std::string string_field(const nlohmann::json& body, const std::string& field,
                         const std::string& fallback, size_t min_len, size_t max_len) {
  auto it = body.find(field);
  if (it == body.end()) return fallback;
  if (!it->is_string()) throw bad_param(field, "must be a string");
  std::string v = it->get<std::string>();
  if (v.size() < min_len || v.size() > max_len)
    throw bad_param(
        field, "must be " + std::to_string(min_len) + " to " + std::to_string(max_len) + " bytes");
  return v;
}

storage::AuditEntry audit_entry(const Request& req, std::string action) {
  storage::AuditEntry e;
  if (req.principal.authenticated) {
    e.token_id = req.principal.token_id;
    e.token_name = req.principal.token_name;
  } else {
    e.token_name = req.principal.token_name;  // "auth disabled"
  }
  e.source_addr = req.remote_addr;
  e.action = std::move(action);
  return e;
}

}  // namespace metricsd::api
