// docs/api.md against the daemon's route table: every route the daemon serves has a section
// headed `### METHOD /pattern` whose next line is `Access: <level>` (the level as
// access_name() spells it, as GET /api/v1/routes reports it), no section names a route the
// daemon lacks, and every route the page mentions in backticks (`/api/v1/nodes/gpu-07`,
// `GET /api/v1/query?metric=x`) is one the daemon serves. The checker is tested on small
// made-up pages too, so a check that stopped finding anything would fail here.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "api/route_table.hpp"
#include "core/roles.hpp"

namespace metricsd {
namespace {

struct ServedRoute {
  std::string method;
  std::string pattern;  // "/api/v1/nodes/{node_id}"
  std::string access;   // access_name() of what the route requires
};

// Every route the daemon serves, with its access: the route table it is built from.
std::vector<ServedRoute> served_routes() {
  std::vector<ServedRoute> out;
  for (const auto& r : api::route_table())
    out.push_back(
        {std::string(r.method), std::string(r.pattern), std::string(access_name(r.access))});
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  if (path.starts_with('/')) path.remove_prefix(1);
  if (path.empty()) return out;
  for (size_t start = 0;;) {
    size_t slash = path.find('/', start);
    out.emplace_back(
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

bool is_param(std::string_view s) {
  return s.size() > 2 && s.front() == '{' && s.back() == '}';
}

// A path as the page writes it ("/api/v1/nodes/gpu-07", "/api/v1/nodes/{node_id}") against a
// route pattern: a literal segment matches itself or a parameter, a `{name}` a parameter.
bool path_matches(std::string_view path, std::string_view pattern) {
  auto have = split_path(path), want = split_path(pattern);
  if (have.size() != want.size()) return false;
  for (size_t i = 0; i < have.size(); ++i) {
    if (have[i].empty()) return false;
    if (is_param(want[i])) continue;
    if (is_param(have[i]) || have[i] != want[i]) return false;
  }
  return true;
}

bool is_method(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < 'A' || c > 'Z') return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

struct DocRoute {
  std::string method, path, access;
  size_t line;
};

struct Mention {
  std::string method;  // empty when the page gives only the path
  std::string path;
  size_t line;
};

// What the page says: its route sections and the routes named in backticks outside code
// blocks. Problems of form (a route heading without its Access line) go to `problems`.
struct ParsedDoc {
  std::vector<DocRoute> routes;
  std::vector<Mention> mentions;
  std::vector<std::string> problems;
};

ParsedDoc parse_doc(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t start = 0; start <= text.size();) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  ParsedDoc doc;
  bool fenced = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = trim(lines[i]);
    const size_t number = i + 1;
    if (line.starts_with("```")) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    if (line.starts_with("### ")) {
      std::string_view title = trim(line.substr(4));
      size_t space = title.find(' ');
      std::string_view method = title.substr(0, space);
      if (space != std::string_view::npos && is_method(method) &&
          title.substr(space + 1).starts_with('/')) {
        std::string_view path = title.substr(space + 1);
        if (path.find_first_of(" \t`") != std::string_view::npos)
          doc.problems.push_back("line " + std::to_string(number) + ": the heading \"" +
                                 std::string(line) + "\" must be exactly `### METHOD /path`");
        size_t next = i + 1;
        while (next < lines.size() && trim(lines[next]).empty())
          ++next;
        std::string access;
        if (next < lines.size() && trim(lines[next]).starts_with("Access: "))
          access = std::string(trim(trim(lines[next]).substr(8)));
        else
          doc.problems.push_back("line " + std::to_string(number) + ": the heading \"" +
                                 std::string(line) + "\" is not followed by an `Access: ` line");
        doc.routes.push_back({std::string(method), std::string(path), access, number});
        continue;
      }
    }
    // Backticked spans: `/path...` or `METHOD /path...`.
    for (size_t open = line.find('`'); open != std::string_view::npos;) {
      size_t close = line.find('`', open + 1);
      if (close == std::string_view::npos) break;
      std::string_view span = line.substr(open + 1, close - open - 1);
      open = line.find('`', close + 1);
      std::string method;
      size_t space = span.find(' ');
      if (space != std::string_view::npos && is_method(span.substr(0, space)) &&
          span.substr(space + 1).starts_with('/')) {
        method = std::string(span.substr(0, space));
        span.remove_prefix(space + 1);
      }
      if (!span.starts_with('/')) continue;
      span = span.substr(0, span.find_first_of("? "));
      doc.mentions.push_back({method, std::string(span), number});
    }
  }
  return doc;
}

// Everything wrong with the page against the routes; empty when it is right.
std::vector<std::string> check_doc(std::string_view text, const std::vector<ServedRoute>& served) {
  ParsedDoc doc = parse_doc(text);
  std::vector<std::string> problems = doc.problems;
  for (const auto& r : served) {
    std::vector<const DocRoute*> found;
    for (const auto& d : doc.routes)
      if (d.method == r.method && d.path == r.pattern) found.push_back(&d);
    std::string name = r.method + " " + r.pattern;
    if (found.empty()) {
      problems.push_back("no section `### " + name + "` with `Access: " + r.access + "`");
      continue;
    }
    if (found.size() > 1)
      problems.push_back("`### " + name + "` appears " + std::to_string(found.size()) + " times");
    for (const auto* d : found)
      if (d->access != r.access)
        problems.push_back("line " + std::to_string(d->line) + ": `### " + name +
                           "` says `Access: " + d->access + "`; the route requires " + r.access);
  }
  for (const auto& d : doc.routes) {
    bool known = false;
    for (const auto& r : served)
      known = known || (d.method == r.method && d.path == r.pattern);
    if (!known)
      problems.push_back("line " + std::to_string(d.line) + ": `### " + d.method + " " + d.path +
                         "` names a route the daemon does not serve");
  }
  for (const auto& m : doc.mentions) {
    std::string method = m.method == "HEAD" ? "GET" : m.method;
    bool known = false;
    for (const auto& r : served)
      known = known || ((method.empty() || method == r.method) && path_matches(m.path, r.pattern));
    if (!known)
      problems.push_back("line " + std::to_string(m.line) + ": `" +
                         (m.method.empty() ? "" : m.method + " ") + m.path +
                         "` is not a route the daemon serves");
  }
  return problems;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += "  " + s + "\n";
  return out;
}

std::string read_api_doc() {
  std::ifstream f(METRICSD_SOURCE_DIR "/docs/api.md", std::ios::binary);
  std::ostringstream text;
  text << f.rdbuf();
  return text.str();
}

TEST(ApiDoc, DocumentsEveryServedRouteWithItsAccessAndNoOther) {
  std::string text = read_api_doc();
  ASSERT_FALSE(text.empty()) << "cannot read " METRICSD_SOURCE_DIR "/docs/api.md";
  auto problems = check_doc(text, served_routes());
  EXPECT_TRUE(problems.empty()) << "docs/api.md disagrees with the daemon's routes:\n"
                                << join(problems);
  EXPECT_EQ(parse_doc(text).routes.size(), served_routes().size());
}

// The checker itself, on made-up pages.
const std::vector<ServedRoute> kTiny = {{"GET", "/api/v1/nodes/{node_id}", "viewer"},
                                        {"POST", "/api/v1/tokens", "admin"}};

TEST(ApiDoc, CheckerAcceptsAPageThatMatches) {
  std::string page =
      "# API\n\n### GET /api/v1/nodes/{node_id}\nAccess: viewer\n\nSee `/api/v1/nodes/gpu-07` "
      "and `HEAD /api/v1/nodes/{node_id}`.\n\n### POST /api/v1/tokens\n\nAccess: admin\n";
  EXPECT_EQ(check_doc(page, kTiny), std::vector<std::string>{});
}

TEST(ApiDoc, CheckerFindsAMissingSection) {
  auto problems = check_doc("### GET /api/v1/nodes/{node_id}\nAccess: viewer\n", kTiny);
  ASSERT_EQ(problems.size(), 1u) << join(problems);
  EXPECT_NE(problems[0].find("POST /api/v1/tokens"), std::string::npos) << problems[0];
}

TEST(ApiDoc, CheckerFindsTheWrongAccess) {
  auto problems = check_doc(
      "### GET /api/v1/nodes/{node_id}\nAccess: viewer\n### POST /api/v1/tokens\nAccess: "
      "operator\n",
      kTiny);
  ASSERT_EQ(problems.size(), 1u) << join(problems);
  EXPECT_NE(problems[0].find("requires admin"), std::string::npos) << problems[0];
}

TEST(ApiDoc, CheckerFindsASectionWithoutAccess) {
  auto problems = check_doc(
      "### GET /api/v1/nodes/{node_id}\n\nThe node.\n### POST /api/v1/tokens\nAccess: admin\n",
      kTiny);
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems[0].find("Access"), std::string::npos) << problems[0];
}

TEST(ApiDoc, CheckerFindsARouteTheDaemonLacks) {
  std::string page =
      "### GET /api/v1/nodes/{node_id}\nAccess: viewer\n### POST /api/v1/tokens\nAccess: admin\n"
      "### DELETE /api/v1/nodes/{node_id}\nAccess: admin\n";
  auto problems = check_doc(page, kTiny);
  ASSERT_EQ(problems.size(), 1u) << join(problems);
  EXPECT_NE(problems[0].find("DELETE /api/v1/nodes/{node_id}"), std::string::npos) << problems[0];
}

TEST(ApiDoc, CheckerFindsAMentionOfARouteTheDaemonLacks) {
  std::string base =
      "### GET /api/v1/nodes/{node_id}\nAccess: viewer\n### POST /api/v1/tokens\nAccess: admin\n";
  for (std::string mention : {"`/api/v1/jobs`", "`GET /api/v1/tokens`",
                              "`/api/v1/nodes/gpu-07/info`", "`/prometheus/api/v1/query?x=1`"}) {
    auto problems = check_doc(base + "Try " + mention + ".\n", kTiny);
    EXPECT_EQ(problems.size(), 1u) << mention << "\n" << join(problems);
  }
  // Paths in code blocks are examples, not claims.
  EXPECT_EQ(check_doc(base + "```\ncurl /api/v1/jobs `/api/v1/jobs`\n```\n", kTiny),
            std::vector<std::string>{});
}

TEST(ApiDoc, CheckerWantsExactHeadings) {
  std::string page =
      "### GET /api/v1/nodes/{node_id} (one node)\nAccess: viewer\n"
      "### POST /api/v1/tokens\nAccess: admin\n";
  auto problems = check_doc(page, kTiny);
  EXPECT_GE(problems.size(), 1u);
}

}  // namespace
}  // namespace metricsd
