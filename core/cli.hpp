// Command-line parsing for `metricsd`: the command, --config, and one flag per setting
// (derived from the settings table), as `--flag value` or `--flag=value`.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace metricsd {

struct CommandLine {
  std::string command = "serve";  // serve | migrate | token | backup | restore
  // `token create|list|revoke`: the action, its arguments and options.
  std::string action;
  std::vector<std::string> arguments;  // revoke: the token id; backup, restore: the directory
  std::string token_role, token_name, token_node;
  bool token_all = false;          // list: revoked ones too
  bool restore_confirmed = false;  // restore --yes
  bool help = false;
  bool version = false;
  bool example_config = false;
  std::optional<std::string> config_file;
  std::vector<std::pair<std::string, std::string>> settings;  // setting name -> text
};

// Throws SettingsError (exit code 2) on an unknown command or flag, or a missing value.
CommandLine parse_command_line(const std::vector<std::string>& args);

std::string usage_text();

}  // namespace metricsd
