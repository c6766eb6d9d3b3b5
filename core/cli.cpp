// Command-line parsing; see cli.hpp.
#include "core/cli.hpp"

#include <fmt/format.h>

#include "core/settings.hpp"

namespace metricsd {

CommandLine parse_command_line(const std::vector<std::string>& args) {
  CommandLine out;
  bool have_command = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out.help = true;
      continue;
    }
    if (a == "--version") {
      out.version = true;
      continue;
    }
    if (a == "--example-config") {
      out.example_config = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      if (have_command && out.command == "token") {
        if (out.action.empty()) {
          if (a != "create" && a != "list" && a != "revoke")
            throw SettingsError(
                fmt::format("unknown token action \"{}\"; actions: create, list, revoke", a));
          out.action = a;
        } else {
          out.arguments.push_back(a);
        }
        continue;
      }
      if (have_command && (out.command == "backup" || out.command == "restore") &&
          out.arguments.empty()) {
        out.arguments.push_back(a);
        continue;
      }
      if (have_command)
        throw SettingsError(fmt::format("unexpected argument \"{}\" (see metricsd --help)", a));
      if (a != "serve" && a != "migrate" && a != "token" && a != "backup" && a != "restore")
        throw SettingsError(fmt::format(
            "unknown command \"{}\"; commands: serve, migrate, token, backup, restore", a));
      out.command = a;
      have_command = true;
      continue;
    }
    std::string flag = a, value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      flag = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    auto take_value = [&] {
      if (inline_value) return;
      if (i + 1 >= args.size()) throw SettingsError(fmt::format("flag {} needs a value", flag));
      value = args[++i];
    };
    if (flag == "--config") {
      take_value();
      out.config_file = value;
      continue;
    }
    if (out.command == "token" && (flag == "--role" || flag == "--name" || flag == "--node")) {
      take_value();
      (flag == "--role"   ? out.token_role
       : flag == "--name" ? out.token_name
                          : out.token_node) = value;
      continue;
    }
    if (out.command == "restore" && flag == "--yes" && !inline_value) {
      out.restore_confirmed = true;
      continue;
    }
    if (out.command == "token" && flag == "--all" && !inline_value) {
      out.token_all = true;
      continue;
    }
    const SettingSpec* spec = nullptr;
    for (const auto& s : setting_specs())
      if (flag_name(s.name) == flag) spec = &s;
    if (!spec) throw SettingsError(fmt::format("unknown flag {} (see metricsd --help)", flag));
    take_value();
    out.settings.emplace_back(std::string(spec->name), value);
  }
  if (out.command == "token") {
    if (out.action.empty())
      throw SettingsError("metricsd token needs an action: create, list or revoke");
    if (out.action == "create" && (out.token_role.empty() || out.token_name.empty()))
      throw SettingsError("metricsd token create needs --role ROLE and --name NAME");
    if (out.action == "revoke" && out.arguments.size() != 1)
      throw SettingsError("metricsd token revoke needs exactly one token id");
    if (out.action != "revoke" && !out.arguments.empty())
      throw SettingsError(
          fmt::format("unexpected argument \"{}\" (see metricsd --help)", out.arguments[0]));
  } else if ((out.command == "backup" || out.command == "restore") && out.arguments.empty()) {
    throw SettingsError(fmt::format("metricsd {} needs a directory", out.command));
  } else if (!out.token_role.empty() || !out.token_name.empty() || !out.token_node.empty() ||
             out.token_all) {
    throw SettingsError("--role, --name, --node and --all belong to metricsd token");
  }
  return out;
}

std::string usage_text() {
  return "usage: metricsd [serve|migrate] [--config FILE] [--SETTING VALUE]...\n"
         "       metricsd token create --role ROLE --name NAME [--node NODE_ID]\n"
         "       metricsd token list [--all] | token revoke ID\n"
         "       metricsd backup DIR | restore DIR [--yes]\n"
         "       metricsd --version | --help | --example-config\n\n"
         "commands:\n"
         "  serve     run the daemon (default)\n"
         "  migrate   apply database migrations and exit\n"
         "  token     create (prints the secret once), list or revoke API tokens; roles:\n"
         "            admin, operator, viewer, agent (--node binds an agent to one node);\n"
         "            works whether or not the daemon is running\n"
         "  backup    copy the embedded PostgreSQL cluster into DIR (a new or empty\n"
         "            directory), consistent, while the daemon serves (or is stopped)\n"
         "  restore   replace the embedded cluster with the backup in DIR (the daemon\n"
         "            must be stopped; the current cluster is kept aside, not deleted);\n"
         "            --yes confirms\n\n"
         "settings (lowest precedence first: defaults, --config FILE (JSON), environment,\n"
         "flags):\n" +
         settings_help();
}

}  // namespace metricsd
