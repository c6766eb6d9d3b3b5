// JSON text checks; see json_text.hpp.
#include "api/json_text.hpp"

#include <algorithm>

namespace metricsd::api {

size_t json_nesting_depth(std::string_view text, size_t limit) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest >= limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::optional<std::string> find_nul_string(const nlohmann::json& value, const std::string& path) {
  auto has_nul = [](const std::string& s) { return s.find('\0') != std::string::npos; };
  if (value.is_string()) {
    if (has_nul(value.get_ref<const std::string&>())) return path;
  } else if (value.is_object()) {
    for (const auto& [k, v] : value.items()) {
      std::string at = path.empty() ? k : path + "." + k;
      if (has_nul(k)) return at;
      if (auto bad = find_nul_string(v, at)) return bad;
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i)
      if (auto bad = find_nul_string(value[i], path + "[" + std::to_string(i) + "]")) return bad;
  }
  return std::nullopt;
}

std::string json_parse_error(std::string_view text) {
  try {
    nlohmann::json parsed = nlohmann::json::parse(text);  // called when parsing failed already
    (void)parsed;
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    auto bracket = what.find("] ");
    return what.substr(what.front() == '[' && bracket != std::string::npos ? bracket + 2 : 0);
  }
  return {};
}

}  // namespace metricsd::api
