// InfluxDB compatibility endpoints; see influx_compat_handlers.hpp.
#include "api/influx_compat_handlers.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <boost/url/parse_query.hpp>
#include <cctype>
#include <optional>

#include "core/version.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

// Names SHOW DATABASES remembers; CREATE DATABASE of more still answers success.
constexpr size_t kMaxNames = 100;
// How much of a refused statement the error quotes.
constexpr size_t kMaxQuoted = 120;

void add_version_headers(Response& r) {
  r.headers.emplace_back("X-Influxdb-Version", kInfluxCompatVersion);
  r.headers.emplace_back("X-Influxdb-Build", "OSS");
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

// Takes the next whitespace-delimited word off `s`.
std::string_view take_word(std::string_view& s) {
  s = trim(s);
  size_t n = 0;
  while (n < s.size() && !std::isspace(static_cast<unsigned char>(s[n])))
    ++n;
  std::string_view w = s.substr(0, n);
  s.remove_prefix(n);
  return w;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The statements of an InfluxQL query, split at semicolons outside quotes.
std::vector<std::string_view> split_statements(std::string_view q) {
  std::vector<std::string_view> out;
  char quote = 0;
  size_t start = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    char c = q[i];
    if (quote) {
      if (c == '\\')
        ++i;
      else if (c == quote)
        quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == ';') {
      out.push_back(trim(q.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(trim(q.substr(start)));
  std::erase_if(out, [](std::string_view s) { return s.empty(); });
  return out;
}

// A database name: an identifier, or a double-quoted one with \" escapes.
std::string database_name(std::string_view rest) {
  rest = trim(rest);
  std::string name;
  if (!rest.empty() && rest.front() == '"') {
    for (size_t i = 1; i < rest.size() && rest[i] != '"'; ++i)
      name.push_back(rest[i] == '\\' && i + 1 < rest.size() ? rest[++i] : rest[i]);
    return name;
  }
  return std::string(take_word(rest));
}

std::string quoted(std::string_view statement) {
  if (statement.size() <= kMaxQuoted) return std::string(statement);
  return std::string(statement.substr(0, kMaxQuoted)) + "...";
}

// The q parameter of a form-encoded body (application/x-www-form-urlencoded: + is a space).
std::optional<std::string> form_q(std::string_view body) {
  std::string encoded;
  encoded.reserve(body.size());
  for (char c : body)
    if (c == '+')
      encoded += "%20";
    else
      encoded.push_back(c);
  auto parsed = boost::urls::parse_query(encoded);
  if (!parsed) return std::nullopt;
  for (auto p : *parsed)
    if (p.key.decode() == "q") return p.value.decode();
  return std::nullopt;
}

bool is_form(const Request& req) {
  auto ct = req.header("content-type");
  return ct && ct->substr(0, ct->find(';')) == "application/x-www-form-urlencoded";
}

}  // namespace

InfluxCompatHandlers::InfluxCompatHandlers(prom::Registry& metrics)
    : statements_(metrics.counter("metricsd_influx_query_statements_total",
                                  "InfluxQL statements on /query: answered (create_database, "
                                  "show_databases) or refused (a 400, by reason)",
                                  {"statement"})) {}

boost::asio::awaitable<Response> InfluxCompatHandlers::ping(Request& req) {
  Response r;
  // ?verbose=true: InfluxDB 1.x answers 200 with the version in a body.
  if (req.query_param("verbose").value_or("") == "true") {
    r = json_response(200, {{"version", kInfluxCompatVersion}});
  } else {
    r.status = 204;
    r.content_type.clear();
  }
  add_version_headers(r);
  co_return r;
}

boost::asio::awaitable<Response> InfluxCompatHandlers::health(Request&) {
  Response r = json_response(200, {{"name", "influxdb"},
                                   {"message", "ready for queries and writes"},
                                   {"status", "pass"},
                                   {"checks", json::array()},
                                   {"version", kInfluxCompatVersion},
                                   {"commit", kGitCommit}});
  add_version_headers(r);
  co_return r;
}

Response InfluxCompatHandlers::refuse(const std::string& message, const char* reason) {
  statements_.with({reason}).inc();
  Response r = json_response(400, {{"error", message}});
  add_version_headers(r);
  return r;
}

boost::asio::awaitable<Response> InfluxCompatHandlers::query(Request& req) {
  std::optional<std::string> q;
  if (auto p = req.query_param("q")) q = std::string(*p);
  if (!q && req.method == "POST" && is_form(req)) q = form_q(req.body);
  if (!q || trim(*q).empty())
    co_return refuse("missing required parameter \"q\"", "refused_missing_q");
  // Every statement is checked before any is run: a refused request changes nothing.
  enum class Kind { kCreate, kShow };
  std::vector<std::pair<Kind, std::string>> plan;
  for (std::string_view st : split_statements(*q)) {
    std::string_view rest = st;
    std::string_view verb = take_word(rest);
    std::string_view object = take_word(rest);
    if (iequals(verb, "CREATE") && iequals(object, "DATABASE")) {
      std::string name = database_name(rest);
      if (name.empty())
        co_return refuse(fmt::format("CREATE DATABASE needs a name: {}", quoted(st)),
                         "refused_malformed");
      plan.emplace_back(Kind::kCreate, std::move(name));
    } else if (iequals(verb, "SHOW") && iequals(object, "DATABASES") && trim(rest).empty()) {
      plan.emplace_back(Kind::kShow, "");
    } else if (iequals(verb, "DROP") && iequals(object, "DATABASE")) {
      co_return refuse(
          fmt::format("DROP DATABASE is not supported: a database is a name only and metricsd "
                      "keeps every write in one store; delete series with POST "
                      "/api/v1/admin/series/delete ({})",
                      quoted(st)),
          "refused_drop_database");
    } else {
      co_return refuse(
          fmt::format("metricsd answers only CREATE DATABASE and SHOW DATABASES on /query; "
                      "unsupported statement: {} (read data with GET /api/v1/query)",
                      quoted(st)),
          "refused_unsupported");
    }
  }
  if (plan.empty())  // only separators and spaces
    co_return refuse("missing required parameter \"q\"", "refused_missing_q");
  json results = json::array();
  for (auto& [kind, name] : plan) {
    json result = {{"statement_id", results.size()}};
    if (kind == Kind::kCreate) {
      statements_.with({"create_database"}).inc();
      std::lock_guard lock(mu_);
      if (created_.size() < kMaxNames &&
          std::find(created_.begin(), created_.end(), name) == created_.end())
        created_.push_back(std::move(name));
    } else {
      statements_.with({"show_databases"}).inc();
      json series = {{"name", "databases"}, {"columns", json::array({"name"})}};
      json values = json::array();
      {
        std::lock_guard lock(mu_);
        for (const auto& n : created_)
          values.push_back(json::array({n}));
      }
      if (!values.empty()) series["values"] = std::move(values);
      result["series"] = json::array({std::move(series)});
    }
    results.push_back(std::move(result));
  }
  Response r = json_response(200, {{"results", results}});
  add_version_headers(r);
  co_return r;
}

}  // namespace metricsd::api
