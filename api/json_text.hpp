// Checks on request JSON that nlohmann's parser does not make: nesting depth (before
// parsing), NUL characters PostgreSQL cannot store (after), and a readable account of
// why text is not JSON. Pure logic; the ingest decoder and control bodies share it.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace metricsd::api {

// How deeply a request body may nest arrays and objects. Deeper bodies are refused
// before parsing: dumping or copying a JSON value recurses once per level, and a body of
// 100000 `[` overflowed an io thread's stack.
inline constexpr size_t kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in JSON text (brackets inside strings do not
// count); stops counting at `limit`. Does not validate the text.
size_t json_nesting_depth(std::string_view text, size_t limit = kMaxJsonDepth + 1);

// The first string or key under `value` holding a NUL character (jsonb refuses \u0000 and
// a text parameter would be cut short there), as a path like "args.a[2]"; nullopt when
// there is none. `value` must nest at most kMaxJsonDepth levels (this recurses).
std::optional<std::string> find_nul_string(const nlohmann::json& value, const std::string& path);

// Why `text` is not JSON, e.g. "syntax error at byte 12: number overflow parsing '1e309'"
// (nlohmann's account without its exception prefix); "" when it is JSON.
std::string json_parse_error(std::string_view text);

}  // namespace metricsd::api
