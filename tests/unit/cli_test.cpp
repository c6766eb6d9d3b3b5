// Command line: commands, --config, one flag per setting in both `--flag value` and
// `--flag=value` forms, and the errors for unknown commands, unknown flags and missing values.
#include "core/cli.hpp"

#include <gtest/gtest.h>

#include "core/settings.hpp"

namespace metricsd {
namespace {

using Args = std::vector<std::string>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

// Expects parse_command_line(args) to throw SettingsError whose message contains `fragment`.
void expect_cli_error(const Args& args, const std::string& fragment) {
  try {
    parse_command_line(args);
    ADD_FAILURE() << "expected SettingsError for " << ::testing::PrintToString(args);
  } catch (const SettingsError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << fragment << "\"";
  }
}

TEST(Cli, NoArgumentsMeansServeWithNothingSet) {
  CommandLine cl = parse_command_line({});
  EXPECT_EQ(cl.command, "serve");
  EXPECT_FALSE(cl.help);
  EXPECT_FALSE(cl.version);
  EXPECT_FALSE(cl.example_config);
  EXPECT_FALSE(cl.config_file);
  EXPECT_TRUE(cl.settings.empty());
}

TEST(Cli, CommandIsServeOrMigrateAnywhereAmongFlags) {
  struct Case {
    Args args;
    std::string command;
  };
  const Case cases[] = {
      {{"serve"}, "serve"},
      {{"migrate"}, "migrate"},
      {{"--threads", "2", "migrate"}, "migrate"},
      {{"migrate", "--threads=2"}, "migrate"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(parse_command_line(c.args).command, c.command);
}

TEST(Cli, UnknownCommandIsRefusedNamingIt) {
  expect_cli_error({"frobnicate"}, "unknown command \"frobnicate\"");
  expect_cli_error({"--threads", "2", "Serve"}, "unknown command \"Serve\"");
}

TEST(Cli, SecondCommandIsRefused) {
  expect_cli_error({"serve", "migrate"}, "unexpected argument \"migrate\"");
}

TEST(Cli, FlagValueComesAfterSpaceOrEquals) {
  struct Case {
    Args args;
    Pairs settings;
  };
  const Case cases[] = {
      {{"--threads", "4"}, {{"threads", "4"}}},
      {{"--threads=4"}, {{"threads", "4"}}},
      {{"--http-max-body-bytes", "1MiB"}, {{"http.max_body_bytes", "1MiB"}}},
      {{"--http-max-body-bytes=1MiB"}, {{"http.max_body_bytes", "1MiB"}}},
      // Only the first '=' separates; the rest belongs to the value.
      {{"--database-url=postgresql://u@h/db?sslmode=require&a=b"},
       {{"database.url", "postgresql://u@h/db?sslmode=require&a=b"}}},
      {{"--database-url="}, {{"database.url", ""}}},
      {{"--database-url", ""}, {{"database.url", ""}}},
      // Repeats are kept in order; resolution lets the last one win.
      {{"--log-level", "debug", "--log-level=warn"},
       {{"log.level", "debug"}, {"log.level", "warn"}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.args));
    EXPECT_EQ(parse_command_line(c.args).settings, c.settings);
  }
}

TEST(Cli, EverySettingHasAFlag) {
  for (const auto& s : setting_specs()) {
    CommandLine cl = parse_command_line({flag_name(s.name), "v"});
    EXPECT_EQ(cl.settings, (Pairs{{std::string(s.name), "v"}}));
  }
}

TEST(Cli, ConfigFlagNamesTheFile) {
  EXPECT_EQ(parse_command_line({"--config", "/etc/m.json"}).config_file, "/etc/m.json");
  EXPECT_EQ(parse_command_line({"--config=/etc/m.json"}).config_file, "/etc/m.json");
  EXPECT_TRUE(parse_command_line({"--config=/etc/m.json"}).settings.empty());
}

TEST(Cli, HelpVersionAndExampleConfigFlags) {
  EXPECT_TRUE(parse_command_line({"--help"}).help);
  EXPECT_TRUE(parse_command_line({"-h"}).help);
  EXPECT_TRUE(parse_command_line({"--version"}).version);
  EXPECT_TRUE(parse_command_line({"--example-config"}).example_config);
}

TEST(Cli, UnknownFlagIsRefusedNamingIt) {
  expect_cli_error({"--bogus"}, "unknown flag --bogus");
  expect_cli_error({"--bogus=1"}, "unknown flag --bogus");
  expect_cli_error({"--bogus", "1"}, "unknown flag --bogus");
  expect_cli_error({"--http-max-body", "1"}, "unknown flag --http-max-body");
  // The setting's dotted name is not a flag; only the dashed form is.
  expect_cli_error({"--http.max_body_bytes", "1"}, "unknown flag --http.max_body_bytes");
}

TEST(Cli, FlagWithoutValueIsRefusedNamingIt) {
  expect_cli_error({"--threads"}, "flag --threads needs a value");
  expect_cli_error({"serve", "--log-level"}, "flag --log-level needs a value");
  expect_cli_error({"--config"}, "flag --config needs a value");
}

TEST(Cli, MalformedFlagValueIsRefusedWhenResolvedNamingTheSetting) {
  CommandLine cl = parse_command_line({"--threads=lots"});
  SettingsSources src;
  src.flags = cl.settings;
  try {
    resolve_settings(src);
    ADD_FAILURE() << "expected SettingsError";
  } catch (const SettingsError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("setting threads:"), std::string::npos) << what;
    EXPECT_NE(what.find("--threads"), std::string::npos) << what;
  }
}

TEST(Cli, LastRepeatedFlagWins) {
  SettingsSources src;
  src.flags = parse_command_line({"--threads", "2", "--threads=8"}).settings;
  EXPECT_EQ(resolve_settings(src).threads, 8);
}

TEST(Cli, UsageNamesCommandsAndEveryFlag) {
  const std::string usage = usage_text();
  EXPECT_NE(usage.find("serve"), std::string::npos);
  EXPECT_NE(usage.find("migrate"), std::string::npos);
  EXPECT_NE(usage.find("--config"), std::string::npos);
  for (const auto& s : setting_specs())
    EXPECT_NE(usage.find(flag_name(s.name)), std::string::npos) << s.name;
}

}  // namespace
}  // namespace metricsd
