// JSON text checks: nesting depth before parsing, NUL characters after, parse errors
// that say what is wrong.
#include "api/json_text.hpp"

#include <gtest/gtest.h>

namespace metricsd::api {
namespace {

using nlohmann::json;

TEST(JsonText, NestingDepthCountsBracketsOutsideStrings) {
  EXPECT_EQ(json_nesting_depth(""), 0u);
  EXPECT_EQ(json_nesting_depth("1"), 0u);
  EXPECT_EQ(json_nesting_depth("{}"), 1u);
  EXPECT_EQ(json_nesting_depth(R"({"a":[1,{"b":[]}],"c":{}})"), 4u);
  EXPECT_EQ(json_nesting_depth(R"({"a":"[[[[{{{{"})"), 1u);
  EXPECT_EQ(json_nesting_depth(R"({"a":"\"[[[["})"), 1u);
  EXPECT_EQ(json_nesting_depth(R"({"a":"\\","b":[[]]})"), 3u);
  EXPECT_EQ(json_nesting_depth("]]]]["), 1u);  // stray closers do not go below zero
}

TEST(JsonText, NestingDepthStopsCountingAtTheLimit) {
  std::string deep(100000, '[');
  EXPECT_EQ(json_nesting_depth(deep), kMaxJsonDepth + 1);
  EXPECT_EQ(json_nesting_depth(std::string(kMaxJsonDepth, '[')), kMaxJsonDepth);
}

TEST(JsonText, FindsTheFirstNulInAStringOrKey) {
  EXPECT_EQ(find_nul_string(json::parse(R"({"a":[1,"x",{"b":"ok"}]})"), "args"), std::nullopt);
  EXPECT_EQ(find_nul_string(json::parse(R"({"a":[1,"x",{"b":"o\u0000k"}]})"), "args"),
            "args.a[2].b");
  EXPECT_EQ(find_nul_string(json::parse(R"({"a\u0000":1})"), ""), std::string("a\0", 2));
  EXPECT_EQ(find_nul_string(json::parse(R"("\u0000")"), "hostname"), "hostname");
}

TEST(JsonText, ParseErrorSaysWhatAndWhere) {
  EXPECT_EQ(json_parse_error(R"({"a":1})"), "");
  std::string e = json_parse_error(R"({"v": 1e309})");
  EXPECT_NE(e.find("number overflow"), std::string::npos) << e;
  EXPECT_NE(e.find("1e309"), std::string::npos) << e;
  EXPECT_EQ(e.find("[json.exception"), std::string::npos) << e;
  e = json_parse_error("{\"v\": \"\xFF\"}");
  EXPECT_NE(e.find("UTF-8"), std::string::npos) << e;
}

}  // namespace
}  // namespace metricsd::api
