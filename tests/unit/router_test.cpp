// Router: path parameters, specificity, 404 and 405 with the allowed methods.
#include "server/router.hpp"

#include <gtest/gtest.h>

namespace metricsd::server {
namespace {

boost::asio::awaitable<api::Response> noop(api::Request&) {
  co_return api::Response{};
}

Router make() {
  Router r;
  r.add("GET", "/api/v1/nodes", Access::kViewer, noop);
  r.add("GET", "/api/v1/nodes/{node_id}", Access::kViewer, noop);
  r.add("POST", "/api/v1/nodes/{node_id}/heartbeat", Access::kViewer, noop);
  r.add("GET", "/api/v1/metrics/{category}", Access::kViewer, noop);
  r.add("POST", "/api/v1/metrics", Access::kViewer, noop);
  r.add("GET", "/api/v1/metrics/history/{category}/{timeframe}", Access::kViewer, noop);
  r.add("GET", "/api/v1/nodes/summary", Access::kViewer, noop);
  r.add("DELETE", "/api/v1/nodes/{node_id}", Access::kViewer, noop);
  return r;
}

RouteMatch match(const Router& r, std::string_view method, std::string_view path) {
  auto segs = split_path(path);
  return r.match(method, segs);
}

TEST(Router, SplitPathKeepsEmptyTrailingSegment) {
  EXPECT_EQ(split_path("/"), std::vector<std::string>{});
  EXPECT_EQ(split_path("/a/b"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(split_path("/a/b/"), (std::vector<std::string>{"a", "b", ""}));
}

TEST(Router, PathParameterIsCaptured) {
  auto r = make();
  auto m = match(r, "GET", "/api/v1/nodes/gpu-07");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.route->pattern, "/api/v1/nodes/{node_id}");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "node_id");
  EXPECT_EQ(m.params[0].second, "gpu-07");
}

TEST(Router, LiteralSegmentWinsOverParameter) {
  auto r = make();
  auto m = match(r, "GET", "/api/v1/nodes/summary");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.route->pattern, "/api/v1/nodes/summary");
  EXPECT_TRUE(m.params.empty());
}

TEST(Router, TwoParameters) {
  auto r = make();
  auto m = match(r, "GET", "/api/v1/metrics/history/gpu/24h");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[1].second, "24h");
}

TEST(Router, UnknownPathIsNotFound) {
  auto r = make();
  EXPECT_EQ(match(r, "GET", "/api/v2/nodes").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(match(r, "GET", "/api/v1/nodes/").kind, RouteMatch::Kind::kNotFound);  // empty param
  EXPECT_EQ(match(r, "GET", "/").kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, WrongMethodListsAllowedMethods) {
  auto r = make();
  auto m = match(r, "PUT", "/api/v1/nodes/gpu-07");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"DELETE", "GET", "HEAD"}));
  auto p = match(r, "GET", "/api/v1/metrics");
  ASSERT_EQ(p.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(p.allowed, (std::vector<std::string>{"POST"}));
}

TEST(Router, HeadIsServedByGet) {
  auto r = make();
  EXPECT_EQ(match(r, "HEAD", "/api/v1/nodes").kind, RouteMatch::Kind::kFound);
}

TEST(Router, DuplicateRouteIsRejected) {
  Router r;
  r.add("GET", "/x/{a}", Access::kViewer, noop);
  EXPECT_THROW(r.add("GET", "/x/{a}", Access::kViewer, noop), std::invalid_argument);
  EXPECT_THROW(r.add("GET", "x", Access::kViewer, noop), std::invalid_argument);
}

}  // namespace
}  // namespace metricsd::server
