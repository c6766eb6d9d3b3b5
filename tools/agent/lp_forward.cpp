// Line-protocol preparation (see lp_forward.hpp). The scan follows InfluxDB's grammar:
// `measurement[,tag=value...] field=value[,field=value...] [timestamp]`, where a backslash
// escapes the next character everywhere and field string values are double-quoted.
#include "tools/agent/lp_forward.hpp"

#include <vector>

namespace metricsd::tools {
namespace {

// Positions of the (at most two) unescaped, unquoted spaces that separate the sections.
struct Sections {
  std::string_view head, fields, timestamp;
  bool ok = false;
  std::string why;
};

Sections split_sections(std::string_view line) {
  Sections s;
  std::vector<size_t> cuts;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    // Quotes only matter in the field section (after the first cut).
    if (c == '"' && cuts.size() == 1) quoted = !quoted;
    if (c == ' ' && !quoted) {
      if (cuts.size() == 2) {
        s.why = "more than three space-separated sections";
        return s;
      }
      cuts.push_back(i);
    }
  }
  if (quoted) {
    s.why = "unterminated quoted string";
    return s;
  }
  if (cuts.empty()) {
    s.why = "no field set";
    return s;
  }
  s.head = line.substr(0, cuts[0]);
  size_t fields_end = cuts.size() == 2 ? cuts[1] : line.size();
  s.fields = line.substr(cuts[0] + 1, fields_end - cuts[0] - 1);
  if (cuts.size() == 2) s.timestamp = line.substr(cuts[1] + 1);
  s.ok = true;
  return s;
}

// Splits on unescaped commas (outside double quotes when `quotes`, for field sets).
std::vector<std::string_view> split_unescaped(std::string_view s, char sep, bool quotes) {
  std::vector<std::string_view> out;
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
      continue;
    }
    if (quotes && s[i] == '"') quoted = !quoted;
    if (s[i] == sep && !quoted) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

size_t unescaped_find(std::string_view s, char c) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
      continue;
    }
    if (s[i] == c) return i;
  }
  return std::string_view::npos;
}

bool is_timestamp(std::string_view t) {
  if (!t.empty() && t.front() == '-') t.remove_prefix(1);
  if (t.empty() || t.size() > 19) return false;
  for (char c : t)
    if (c < '0' || c > '9') return false;
  return true;
}

PreparedLine garbage(std::string why) {
  return {LpLineKind::kGarbage, "", std::move(why)};
}

}  // namespace

PreparedLine prepare_lp_line(std::string_view line, const std::string& node, int64_t now_ns) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
    line.remove_prefix(1);
  if (line.empty()) return {LpLineKind::kBlank, "", ""};
  if (line.front() == '#') return {LpLineKind::kComment, "", ""};
  if (line.size() > kMaxLpLineBytes) return garbage("line longer than 64 KiB");

  Sections s = split_sections(line);
  if (!s.ok) return garbage(s.why);
  auto head = split_unescaped(s.head, ',', false);
  if (head[0].empty()) return garbage("empty measurement");
  bool has_node = false;
  for (size_t i = 1; i < head.size(); ++i) {
    auto eq = unescaped_find(head[i], '=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == head[i].size())
      return garbage("tag without key=value");
    if (head[i].substr(0, eq) == "node") has_node = true;
  }
  for (auto field : split_unescaped(s.fields, ',', true)) {
    auto eq = unescaped_find(field, '=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == field.size())
      return garbage("field without key=value");
  }
  if (!s.timestamp.empty() && !is_timestamp(s.timestamp)) return garbage("bad timestamp");

  PreparedLine out{LpLineKind::kLine, "", ""};
  out.line.reserve(line.size() + node.size() + 32);
  out.line.append(head[0]);
  if (!has_node) out.line.append(",node=").append(node);  // node ids need no LP escaping
  out.line.append(s.head.substr(head[0].size()));
  out.line.push_back(' ');
  out.line.append(s.fields);
  out.line.push_back(' ');
  if (s.timestamp.empty())
    out.line.append(std::to_string(now_ns));
  else
    out.line.append(s.timestamp);
  return out;
}

}  // namespace metricsd::tools
