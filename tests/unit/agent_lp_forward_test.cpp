// Preparing custom line-protocol lines for forwarding: the node tag added when absent, the
// collection time added when the line has none, garbage refused, escapes and quoted strings
// honoured. Table-driven.
#include <gtest/gtest.h>

#include "tools/agent/lp_forward.hpp"

namespace metricsd::tools {
namespace {

struct Case {
  const char* in;
  LpLineKind kind;
  const char* out;  // expected line (kLine only)
};

TEST(AgentLpForward, Table) {
  const Case cases[] = {
      {"cpu value=1", LpLineKind::kLine, "cpu,node=n1 value=1 42"},
      {"cpu,host=a value=1i 1795600000000000000", LpLineKind::kLine,
       "cpu,node=n1,host=a value=1i 1795600000000000000"},
      {"cpu,node=other,gpu=0 temp=71.5", LpLineKind::kLine, "cpu,node=other,gpu=0 temp=71.5 42"},
      {"  app,job=x queue=7i,ok=true  \r", LpLineKind::kLine,
       "app,node=n1,job=x queue=7i,ok=true 42"},
      {"my\\ meas,tag\\ key=v\\,1 f=1", LpLineKind::kLine,
       "my\\ meas,node=n1,tag\\ key=v\\,1 f=1 42"},
      {"log msg=\"a b, c=d\",n=2 7", LpLineKind::kLine, "log,node=n1 msg=\"a b, c=d\",n=2 7"},
      {"", LpLineKind::kBlank, ""},
      {"   ", LpLineKind::kBlank, ""},
      {"# a comment", LpLineKind::kComment, ""},
      {"just_a_measurement", LpLineKind::kGarbage, ""},
      {"m,tag value=1", LpLineKind::kGarbage, ""},
      {"m value", LpLineKind::kGarbage, ""},
      {"m value=1 notatime", LpLineKind::kGarbage, ""},
      {"m value=1 1 extra", LpLineKind::kGarbage, ""},
      {"m msg=\"unterminated 1", LpLineKind::kGarbage, ""},
      {",tag=a value=1", LpLineKind::kGarbage, ""},
      {"m =1", LpLineKind::kGarbage, ""},
  };
  for (const auto& c : cases) {
    auto p = prepare_lp_line(c.in, "n1", 42);
    EXPECT_EQ(p.kind, c.kind) << c.in;
    if (c.kind == LpLineKind::kLine) {
      EXPECT_EQ(p.line, c.out) << c.in;
    }
    if (c.kind == LpLineKind::kGarbage) {
      EXPECT_FALSE(p.why.empty()) << c.in;
    }
  }
}

TEST(AgentLpForward, OverlongLinesAreGarbage) {
  std::string line = "m v=" + std::string(kMaxLpLineBytes, '1');
  EXPECT_EQ(prepare_lp_line(line, "n1", 1).kind, LpLineKind::kGarbage);
}

}  // namespace
}  // namespace metricsd::tools
