// The tools' flag parser (tools/common/flags.hpp): both value forms, switches, typed values
// with ranges, lists over the environment, and errors that name the flag; then the agent's
// and the simulator's help lists every flag with its default.
#include <gtest/gtest.h>

#include <map>

#include "tools/agent/agent_options.hpp"
#include "tools/common/flags.hpp"
#include "tools/sim/sim_options.hpp"

namespace metricsd::tools {
namespace {

struct Options {
  std::string url = "http://127.0.0.1:8080";
  uint32_t nodes = 100;
  int64_t step_ms = 0;
  uint64_t seed = 1;
  double rate = 0.5;
  bool verbose = false;
  bool help = false;
  std::vector<std::string> headers{"X-From: default"};
};

void declare(FlagSet& flags, Options& o) {
  flags.add("url", &o.url).arg("URL").help("where to send");
  flags.add("nodes", &o.nodes).arg("N").help("how many nodes").min(1).max(1000);
  flags.add("step-ms", &o.step_ms).arg("MS").help("step").min(-5).max(5);
  flags.add("seed", &o.seed).arg("N").help("seed");
  flags.add("rate", &o.rate).arg("R").help("rate").above(0).max(10).env("TEST_RATE");
  flags.add("verbose", &o.verbose).help("talk").env("TEST_VERBOSE");
  flags
      .add_list(
          "header",
          [&o](const std::string& v) {
            if (v.find(':') == std::string::npos)
              throw std::invalid_argument("expected 'Name: value', got '" + v + "'");
            o.headers.push_back(v);
          },
          [&o] { o.headers.clear(); })
      .arg("'NAME: VALUE'")
      .help("extra header, repeatable")
      .env("TEST_HEADERS");
  flags.add("help", &o.help).help("this help");
}

Options parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  Options o;
  FlagSet flags;
  declare(flags, o);
  flags.parse_env([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  flags.parse(args);
  return o;
}

// The message of the FlagError that parsing `args` throws ("" when it does not throw).
std::string refusal(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  try {
    parse(std::move(args), std::move(env));
  } catch (const FlagError& e) {
    return e.what();
  }
  return "";
}

TEST(ToolFlags, ValuesTakeBothFormsAndDefaultsStay) {
  Options o =
      parse({"--url", "http://x:1", "--nodes=7", "--rate", "2.5", "--seed=18446744073709551615"});
  EXPECT_EQ(o.url, "http://x:1");
  EXPECT_EQ(o.nodes, 7u);
  EXPECT_DOUBLE_EQ(o.rate, 2.5);
  EXPECT_EQ(o.seed, UINT64_MAX);
  EXPECT_EQ(o.step_ms, 0);
  EXPECT_FALSE(o.verbose);
  EXPECT_EQ(o.headers, std::vector<std::string>{"X-From: default"});
  EXPECT_EQ(parse({"--step-ms", "-5"}).step_ms, -5);
  EXPECT_EQ(parse({"--url="}).url, "");                   // an explicitly empty value
  EXPECT_EQ(parse({"--url", "--nodes"}).url, "--nodes");  // the next argument is the value
}

TEST(ToolFlags, SwitchesTakeNoValueUnlessGivenWithEquals) {
  EXPECT_TRUE(parse({"--verbose"}).verbose);
  EXPECT_TRUE(parse({"--verbose=yes"}).verbose);
  EXPECT_FALSE(parse({"--verbose=false"}).verbose);
  EXPECT_FALSE(parse({"--verbose", "--verbose=0"}).verbose);
  EXPECT_NE(refusal({"--verbose=maybe"}).find("--verbose: expected true or false"),
            std::string::npos);
  // A switch does not swallow the next argument.
  EXPECT_NE(refusal({"--verbose", "7"}).find("unexpected argument '7'"), std::string::npos);
  EXPECT_TRUE(parse({"-h"}).help);
  EXPECT_TRUE(parse({"--help"}).help);
}

TEST(ToolFlags, BadValuesAreRefusedNamingTheFlagAndTheRange) {
  EXPECT_EQ(refusal({"--nodes", "0"}), "--nodes: expected an integer in [1, 1000], got '0'");
  EXPECT_EQ(refusal({"--nodes", "1001"}), "--nodes: expected an integer in [1, 1000], got '1001'");
  EXPECT_EQ(refusal({"--nodes", "7.5"}), "--nodes: expected an integer in [1, 1000], got '7.5'");
  EXPECT_EQ(refusal({"--nodes", "-1"}), "--nodes: expected an integer in [1, 1000], got '-1'");
  EXPECT_EQ(refusal({"--seed", "x"}), "--seed: expected an unsigned integer, got 'x'");
  EXPECT_EQ(refusal({"--seed", "18446744073709551616"}),
            "--seed: expected an unsigned integer, got '18446744073709551616'");
  EXPECT_EQ(refusal({"--rate", "0"}), "--rate: expected a number in (0, 10], got '0'");
  EXPECT_EQ(refusal({"--rate", "nan"}), "--rate: expected a number in (0, 10], got 'nan'");
  EXPECT_EQ(refusal({"--rate", "inf"}), "--rate: expected a number in (0, 10], got 'inf'");
  EXPECT_EQ(refusal({"--rate", "1x"}), "--rate: expected a number in (0, 10], got '1x'");
  EXPECT_EQ(refusal({"--rate="}), "--rate: expected a number in (0, 10], got ''");
  EXPECT_EQ(refusal({"--header", "nocolon"}), "--header: expected 'Name: value', got 'nocolon'");
}

TEST(ToolFlags, UnknownFlagsMissingValuesAndStrayArgumentsAreRefused) {
  EXPECT_EQ(refusal({"--nope"}), "unknown flag --nope (see --help)");
  EXPECT_EQ(refusal({"--nope=1"}), "unknown flag --nope (see --help)");
  EXPECT_EQ(refusal({"--nodes"}), "--nodes needs a value");
  EXPECT_EQ(refusal({"nodes"}), "unexpected argument 'nodes' (see --help)");
  EXPECT_EQ(refusal({"-x"}), "unexpected argument '-x' (see --help)");
  EXPECT_EQ(refusal({"--"}), "unexpected argument '--' (see --help)");
}

TEST(ToolFlags, EnvironmentIsUnderTheCommandLineAndListsAreReplacedNotExtended) {
  std::map<std::string, std::string> env = {
      {"TEST_RATE", "3"}, {"TEST_VERBOSE", "true"}, {"TEST_HEADERS", "A: 1,,B: 2"}};
  Options o = parse({}, env);
  EXPECT_DOUBLE_EQ(o.rate, 3);
  EXPECT_TRUE(o.verbose);
  // The environment's items come after the default (it is not a command-line occurrence).
  EXPECT_EQ(o.headers, (std::vector<std::string>{"X-From: default", "A: 1", "B: 2"}));
  o = parse({"--rate", "4", "--header", "C: 3", "--header=D: 4"}, env);
  EXPECT_DOUBLE_EQ(o.rate, 4);
  EXPECT_EQ(o.headers, (std::vector<std::string>{"C: 3", "D: 4"}));
  EXPECT_EQ(refusal({}, {{"TEST_RATE", "11"}}),
            "--rate (from TEST_RATE): expected a number in (0, 10], got '11'");
  EXPECT_EQ(parse({}, {{"TEST_RATE", ""}}).rate, 0.5);  // empty: unset
}

// One line of --help: the flag and its placeholder, then the help from column 31.
std::string help_line(std::string left, const std::string& text) {
  left.resize(31, ' ');
  return left + text + "\n";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  for (size_t p = 0; p < text.size();) {
    size_t e = text.find('\n', p);
    if (e == std::string::npos) e = text.size();
    lines.push_back(text.substr(p, e - p));
    p = e + 1;
  }
  return lines;
}

TEST(ToolFlags, HelpListsEveryFlagWithPlaceholderDefaultAndEnvironment) {
  Options o;
  FlagSet flags;
  declare(flags, o);
  const std::string help = flags.help();
  for (const std::string& line :
       {help_line("  --url URL", "where to send (default http://127.0.0.1:8080)"),
        help_line("  --nodes N", "how many nodes (default 100)"),
        help_line("  --rate R", "rate (default 0.5) [env TEST_RATE]"),
        help_line("  --verbose", "talk [env TEST_VERBOSE]"),
        help_line("  --header 'NAME: VALUE'", "extra header, repeatable [env TEST_HEADERS]")})
    EXPECT_NE(help.find(line), std::string::npos) << line << help;
}

TEST(ToolFlags, HelpWrapsLongLinesWithoutBreakingDefaults) {
  std::string s = "a fairly long default value";
  FlagSet flags;
  flags.add("a-flag-whose-name-is-long-enough", &s)
      .arg("PLACEHOLDER")
      .help("words words words words words words words words words words words words words");
  const auto lines = lines_of(flags.help());
  ASSERT_EQ(lines.size(), 3u) << flags.help();
  EXPECT_EQ(lines[0], "  --a-flag-whose-name-is-long-enough PLACEHOLDER");
  EXPECT_EQ(lines[1].find_first_not_of(' '), 31u);
  EXPECT_EQ(lines[2], std::string(31, ' ') + "words words (default a fairly long default value)");
  for (const auto& line : lines)
    EXPECT_LE(line.size(), 100u) << line;
}

TEST(ToolFlags, DeclaringAFlagTwiceIsAProgrammingError) {
  Options o;
  FlagSet flags;
  flags.add("url", &o.url);
  EXPECT_THROW(flags.add("url", &o.url), std::logic_error);
}

TEST(ToolFlags, AgentAndSimulatorHelpShowEveryFlagAndItsDefault) {
  const std::string agent = agent_usage();
  for (const std::string& line :
       {help_line("  --interval-s SECONDS", "collection and heartbeat interval (default 10)"),
        help_line("  --node ID", "node id (default the host name) [env METRICSD_AGENT_NODE]"),
        help_line("  --per-core",
                  "also send system.cpu_util{core=N} [env METRICSD_AGENT_PER_CORE]"),
        std::string("[env METRICSD_AGENT_BUFFER_SAMPLES]"), std::string("  --version")})
    EXPECT_NE(agent.find(line), std::string::npos) << line << "\n" << agent;
  const std::string sim = sim_usage();
  for (const std::string& line :
       {help_line("  --nodes N", "simulated nodes (1000+ for load) (default 50)"),
        help_line("  --duration TIME",
                  "how long to run: 90s, 15m, 2h, 1d (at most 7d) (default 60s)"),
        std::string("(default sim)")})
    EXPECT_NE(sim.find(line), std::string::npos) << line << "\n" << sim;
  for (const auto& line : lines_of(agent + sim))
    EXPECT_LE(line.size(), 100u) << line;
}

TEST(ToolFlags, AgentFlagsKeepTheirNamesInErrorsFromTheEnvironment) {
  auto env = [](const char* k) -> const char* {
    return std::string(k) == "METRICSD_AGENT_INTERVAL_S" ? "0" : nullptr;
  };
  try {
    parse_agent_options({}, env);
    ADD_FAILURE() << "accepted METRICSD_AGENT_INTERVAL_S=0";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--interval-s (from METRICSD_AGENT_INTERVAL_S)"),
              std::string::npos)
        << e.what();
  }
  auto per_core = [](const char* k) -> const char* {
    return std::string(k) == "METRICSD_AGENT_PER_CORE" ? "1" : nullptr;
  };
  EXPECT_TRUE(parse_agent_options({}, per_core).per_core);
  EXPECT_FALSE(parse_agent_options({"--per-core=false"}, per_core).per_core);
}

}  // namespace
}  // namespace metricsd::tools
