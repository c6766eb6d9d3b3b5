// libFuzzer target: what the server does with a request head before any handler runs and
// the parameter parsing handlers share, on arbitrary bytes. The input is
// `<method byte><target>\n<Authorization value>\n<text>`: the target is split and decoded
// (Boost.URL origin-form, the router's split_path and match over the real route table),
// every query parameter goes through the query-string helpers (integers, times, durations,
// aggregations, unknown-parameter refusal), the bearer token is extracted, and the series
// glob and filter run on what was decoded. Besides crashes and sanitizer reports it checks
// the invariants the handlers rely on (see check() calls).
// Built and run by tests/fuzz/run.sh (or -DMETRICSD_FUZZ=ON with clang).
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/query_params.hpp"
#include "api/route_table.hpp"
#include "core/names.hpp"
#include "core/query_plan.hpp"
#include "core/series_filter.hpp"
#include "core/settings.hpp"
#include "core/time_parse.hpp"
#include "server/request_target.hpp"
#include "server/router.hpp"

namespace {

using namespace metricsd;

constexpr int64_t kNow = 1'795'514'400'000;  // 2026-11-24T10:00:00Z
constexpr size_t kMaxUrlBytes = 8192;        // http.max_url_bytes: longer targets get 414

void check(bool ok) {
  if (!ok) __builtin_trap();
}

const server::Router& router() {
  static const server::Router r = [] {
    server::Router out;
    for (const auto& route : api::route_table())
      out.add(std::string(route.method), std::string(route.pattern), route.access, nullptr);
    return out;
  }();
  return r;
}

// The piece of `in` up to the next '\n' (or the end), which is consumed.
std::string_view take_line(std::string_view& in) {
  size_t nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return line;
}

void check_route(const api::Request& req, const std::vector<std::string>& segments) {
  server::RouteMatch m = router().match(req.method, segments);
  if (m.kind == server::RouteMatch::Kind::kFound) {
    check(m.route != nullptr && m.route->segments.size() == segments.size());
    size_t params = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
      const std::string& s = m.route->segments[i];
      if (s.size() > 2 && s.front() == '{') {
        check(params < m.params.size() && m.params[params].second == segments[i]);
        check(!segments[i].empty());
        ++params;
      } else {
        check(s == segments[i]);
      }
    }
    check(params == m.params.size());
  } else if (m.kind == server::RouteMatch::Kind::kMethodNotAllowed) {
    check(!m.allowed.empty() && m.route == nullptr);
    for (size_t i = 1; i < m.allowed.size(); ++i)
      check(m.allowed[i - 1] < m.allowed[i]);
  }
}

// A time the handlers accepted, read back from its RFC 3339 form.
void check_time(int64_t ms) {
  std::string text = format_rfc3339_ms(ms);
  auto back = parse_rfc3339_ms(text);
  check(back && *back == ms);
}

void check_params(const api::Request& req) {
  std::vector<int64_t> times;
  for (const auto& [k, v] : req.query) {
    try {
      int64_t x = api::int_param(req, k, 0, -1000, 1'000'000);
      check(x >= -1000 && x <= 1'000'000);
    } catch (const api::ApiError& e) {
      check(e.status() == 400);
    }
    try {
      int64_t t = api::time_param(req, k, "now", kNow);
      check_time(t);
      times.push_back(t);
    } catch (const api::ApiError& e) {
      check(e.status() == 400);
    }
    if (auto d = parse_duration_ms(v)) check(*d >= 0);
    (void)parse_agg(v);
    check(glob_match(v, v) && glob_match("*", v));
    (void)glob_match(v, req.path);
  }
  // Any two accepted times as a query's range, bucketed as /api/v1/query does without step.
  for (size_t i = 1; i < times.size(); ++i) {
    int64_t from = times[i - 1], to = times[i];
    if (from >= to) continue;
    int64_t step = step_for(from, to, 1000);
    check(step >= 1000 && (to - from + step - 1) / step <= 1000);
    (void)tier_for(from, to, step);
  }
  try {
    api::only_params(req, {"metric", "node", "label", "from", "to", "step", "agg"});
    for (const auto& [k, v] : req.query)
      check(k == "metric" || k == "node" || k == "label" || k == "from" || k == "to" ||
            k == "step" || k == "agg" || k == "u" || k == "p");
  } catch (const api::ApiError& e) {
    check(e.status() == 400);
  }
}

void check_token(const api::Request& req) {
  auto h = req.header("authorization");
  for (bool query_token : {false, true}) {
    server::RequestToken t = server::request_token(req, query_token);
    check(t.secret.empty() || !t.bad_scheme);
    if (h) {  // the header wins: Bearer/Token trimmed of spaces, a Basic password decoded
      // Schemes are case-insensitive (RFC 9110 11.1), as request_token reads them.
      std::string scheme(h->substr(0, 6));
      for (char& c : scheme)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      bool basic = scheme == "basic ";
      if (!basic) {
        check(t.secret.empty() || (t.secret.front() != ' ' && t.secret.back() != ' '));
        check(h->find(t.secret) != std::string_view::npos);
      }
    } else {  // ?p=, then ?access_token= only when allowed, as decoded
      check(!t.bad_scheme);
      auto p = req.query_param("p");
      check(t.secret == (p             ? std::string(*p)
                         : query_token ? std::string(req.query_param("access_token").value_or(""))
                                       : std::string()));
    }
  }
}

// A filter built from a series' own fields selects it.
void check_filter(const std::vector<std::string>& segments, std::string_view text) {
  SeriesKey key;
  key.metric = std::string(text);
  key.node = segments.empty() ? "" : segments.back();
  for (size_t i = 0; i + 1 < segments.size() && i < 4; i += 2)
    key.labels.emplace_back(segments[i], segments[i + 1]);
  SeriesFilter f;
  f.glob = key.metric;
  f.category = std::string(metric_category(key.metric));
  f.node = key.node;
  f.labels = key.labels;
  check(f.matches(key));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* const kMethods[] = {"GET", "HEAD", "POST", "DELETE", "PUT", "OPTIONS"};
  if (size == 0) return 0;
  api::Request req;
  req.method = kMethods[data[0] % 6];
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string_view target = take_line(in);
  if (target.size() > kMaxUrlBytes) return 0;  // answered 414 before any parsing
  req.target = std::string(target);
  std::string_view auth = take_line(in);
  if (!auth.empty()) req.headers.emplace_back("authorization", std::string(auth));
  check_token(req);
  std::vector<std::string> segments;
  if (!server::parse_target(req, segments)) return 0;
  // Decoding segment by segment equals splitting the decoded path, unless an encoded
  // slash (%2F) put a '/' inside a segment.
  std::string_view encoded_path = target.substr(0, target.find('?'));
  if (encoded_path.find("%2F") == std::string_view::npos &&
      encoded_path.find("%2f") == std::string_view::npos)
    check(segments == server::split_path(req.path));
  check_route(req, segments);
  check_params(req);
  check_token(req);  // now with ?p= and ?access_token= decoded
  check_filter(segments, in);
  return 0;
}
