// Reading the JSON object body of a control request; every failure is a 400 whose
// details name the field.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/http_types.hpp"
#include "api/json_text.hpp"
#include "storage/token_store.hpp"

namespace metricsd::api {

// 400 unless `text` nests at most kMaxJsonDepth levels (details name `field`).
void check_json_depth(std::string_view text, const std::string& field);

// The body as a JSON object (an empty body is {}), refusing fields not in `allowed`,
// bodies nested deeper than kMaxJsonDepth and NUL characters in any string.
nlohmann::json json_object_body(const Request& req,
                                std::initializer_list<std::string_view> allowed);

// A string field: absent -> `fallback`; present but not a string of [min, max] bytes -> 400.
// (json_object_body has refused NUL characters already.)
std::string string_field(const nlohmann::json& body, const std::string& field,
                         const std::string& fallback, size_t min_len, size_t max_len);

// The audit row's who/where, from the request's principal.
storage::AuditEntry audit_entry(const Request& req, std::string action);

}  // namespace metricsd::api
