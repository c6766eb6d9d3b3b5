// Naming rules (core/names.hpp): what is a valid metric, label key, label value, node id
// and event type, UTF-8 validation, and how the line protocol sanitises names that break
// the rules.
#include "core/names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace metricsd {
namespace {

TEST(Names, MetricNameRules) {
  struct Case {
    std::string name;
    bool valid;
  };
  const Case cases[] = {
      {"gpu.temp_c", true},
      {"_x", true},
      {"a:b-c.d_e", true},
      {"A", true},
      {std::string(200, 'm'), true},
      {std::string(201, 'm'), false},
      {"", false},
      {"1gpu", false},
      {".gpu", false},
      {"-gpu", false},
      {"gpu temp", false},
      {"gpu/temp", false},
      {"temp\xC2\xB0", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name.substr(0, 40));
    EXPECT_EQ(valid_metric_name(c.name), c.valid);
  }
}

TEST(Names, LabelKeyRules) {
  struct Case {
    std::string key;
    bool valid;
  };
  const Case cases[] = {
      {"gpu", true},
      {"_", true},
      {"Gpu_0", true},
      {std::string(64, 'k'), true},
      {std::string(65, 'k'), false},
      {"", false},
      {"0gpu", false},
      {"a.b", false},
      {"a-b", false},
      {"a:b", false},
      {"a b", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key);
    EXPECT_EQ(valid_label_key(c.key), c.valid);
  }
}

TEST(Names, LabelValueIsUtf8OfAtMost1024Bytes) {
  EXPECT_TRUE(valid_label_value(""));
  EXPECT_TRUE(valid_label_value("any text, with = and spaces"));
  EXPECT_TRUE(valid_label_value(std::string(1024, 'v')));
  EXPECT_FALSE(valid_label_value(std::string(1025, 'v')));
  EXPECT_FALSE(valid_label_value("\xFF"));
  // Regression: a NUL reached the series table's jsonb, which refuses \u0000 (a 500).
  EXPECT_FALSE(valid_label_value(std::string("a\0b", 3)));
  EXPECT_TRUE(valid_label_value("'; DROP TABLE nodes; --"));
}

TEST(Names, TextIsUtf8WithoutNul) {
  EXPECT_TRUE(valid_text(""));
  EXPECT_TRUE(valid_text("h\xC3\xA9llo $1 \\' ) OR 1=1 --"));
  EXPECT_FALSE(valid_text(std::string(1, '\0')));
  EXPECT_FALSE(valid_text("\xC3"));
  EXPECT_FALSE(valid_text("\xED\xA0\x80"));  // a surrogate
}

TEST(Names, NodeIdRules) {
  struct Case {
    std::string id;
    bool valid;
  };
  const Case cases[] = {
      {"gpu-07", true},
      {"0node", true},
      {"host.example.com:9100", true},
      {"a_b", true},
      {std::string(128, 'n'), true},
      {std::string(129, 'n'), false},
      {"", false},
      {"_x", false},
      {"-x", false},
      {".x", false},
      {"a b", false},
      {"a/b", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.id);
    EXPECT_EQ(valid_node_id(c.id), c.valid);
  }
}

TEST(Names, EventTypeRules) {
  struct Case {
    std::string type;
    bool valid;
  };
  const Case cases[] = {
      {"gpu_xid", true},
      {"x", true},
      {"gpu.ecc.dbe", true},
      {"a0_9.z", true},
      {std::string(64, 'e'), true},
      {std::string(65, 'e'), false},
      {"", false},
      {"Gpu_xid", false},
      {"gpu-xid", false},
      {"0gpu", false},
      {"_gpu", false},
      {".gpu", false},
      {"gpu xid", false},
      {"gpu:xid", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.type);
    EXPECT_EQ(valid_event_type(c.type), c.valid);
  }
  EXPECT_TRUE(daemon_event_type("node_status"));
  EXPECT_TRUE(daemon_event_type("node_registered"));
  EXPECT_FALSE(daemon_event_type("gpu_xid"));
  EXPECT_FALSE(daemon_event_type("node_status.x"));
}

TEST(Names, Utf8ValidationRefusesOverlongSurrogatesAndTruncation) {
  struct Case {
    std::string bytes;
    bool valid;
    const char* what;
  };
  const Case cases[] = {
      {"", true, "empty"},
      {"plain ascii", true, "ascii"},
      {std::string("a\0b", 3), true, "NUL is ASCII"},
      {"\xC3\xA9", true, "2-byte e-acute"},
      {"\xC2\x80", true, "smallest 2-byte"},
      {"\xE2\x82\xAC", true, "3-byte euro"},
      {"\xE0\xA0\x80", true, "smallest 3-byte"},
      {"\xED\x9F\xBF", true, "U+D7FF before the surrogates"},
      {"\xEE\x80\x80", true, "U+E000 after the surrogates"},
      {"\xF0\x9F\x98\x80", true, "4-byte emoji"},
      {"\xF0\x90\x80\x80", true, "smallest 4-byte"},
      {"\xF4\x8F\xBF\xBF", true, "U+10FFFF"},
      {"x\xC3\xA9y\xE2\x82\xAC", true, "mixed"},
      {"\xC0\x80", false, "overlong NUL"},
      {"\xC1\xBF", false, "overlong 2-byte"},
      {"\xE0\x80\x80", false, "overlong 3-byte"},
      {"\xE0\x9F\xBF", false, "overlong U+07FF"},
      {"\xF0\x80\x80\x80", false, "overlong 4-byte"},
      {"\xF0\x8F\xBF\xBF", false, "overlong U+FFFF"},
      {"\xED\xA0\x80", false, "surrogate U+D800"},
      {"\xED\xBF\xBF", false, "surrogate U+DFFF"},
      {"\xED\xA0\xBD\xED\xB8\x80", false, "CESU-8 surrogate pair"},
      {"\xF4\x90\x80\x80", false, "beyond U+10FFFF"},
      {"\xF5\x80\x80\x80", false, "lead byte F5"},
      {"\xF8\x88\x80\x80\x80", false, "5-byte form"},
      {"\xFE", false, "FE"},
      {"\xFF", false, "FF"},
      {"\x80", false, "lone continuation"},
      {"a\xBF", false, "continuation after ascii"},
      {"\xC3", false, "truncated 2-byte"},
      {"\xE2\x82", false, "truncated 3-byte"},
      {"\xF0\x9F\x98", false, "truncated 4-byte"},
      {"ok\xC3", false, "truncated at the end"},
      {"\xE2\x82"
       "A",
       false, "truncated before ascii"},
      {"\xC3\xC3\xA9", false, "lead byte where continuation expected"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(valid_utf8(c.bytes), c.valid);
  }
}

TEST(Names, SanitisingReplacesBadCharactersWithUnderscore) {
  struct Case {
    std::string in;
    std::string metric;
    std::string label_key;
  };
  const Case cases[] = {
      {"gpu.temp_c", "gpu.temp_c", "gpu_temp_c"},
      {"temp c", "temp_c", "temp_c"},
      {"a/b", "a_b", "a_b"},
      {"a-b:c", "a-b:c", "a_b_c"},
      {"1abc", "_1abc", "_1abc"},
      {"9", "_9", "_9"},
      {"-x", "_x", "_x"},
      {".x", "_x", "_x"},
      {"", "_", "_"},
      {"temp\xC2\xB0", "temp__", "temp__"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(sanitize_metric_name(c.in), c.metric);
    EXPECT_EQ(sanitize_label_key(c.in), c.label_key);
    EXPECT_TRUE(valid_metric_name(sanitize_metric_name(c.in)));
    EXPECT_TRUE(valid_label_key(sanitize_label_key(c.in)));
  }
}

TEST(Names, SanitisingCutsToTheLengthLimit) {
  EXPECT_EQ(sanitize_metric_name(std::string(300, 'm')), std::string(200, 'm'));
  EXPECT_EQ(sanitize_metric_name("1" + std::string(300, 'm')).size(), 200u);
  EXPECT_EQ(sanitize_label_key(std::string(100, 'k')), std::string(64, 'k'));
  EXPECT_EQ(sanitize_label_key("a/" + std::string(100, 'k')).size(), 64u);
}

TEST(Names, CategoryIsTheMetricPrefixBeforeTheFirstDot) {
  EXPECT_EQ(metric_category("gpu.temp_c"), "gpu");
  EXPECT_EQ(metric_category("llm.tokens.per_s"), "llm");
  EXPECT_EQ(metric_category("uptime"), "uptime");
  EXPECT_EQ(metric_category(""), "");
}

}  // namespace
}  // namespace metricsd
