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
      if (have_command)
        throw SettingsError(fmt::format("unexpected argument \"{}\" (see metricsd --help)", a));
      if (a != "serve" && a != "migrate")
        throw SettingsError(fmt::format("unknown command \"{}\"; commands: serve, migrate", a));
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
    const SettingSpec* spec = nullptr;
    for (const auto& s : setting_specs())
      if (flag_name(s.name) == flag) spec = &s;
    if (!spec) throw SettingsError(fmt::format("unknown flag {} (see metricsd --help)", flag));
    take_value();
    out.settings.emplace_back(std::string(spec->name), value);
  }
  return out;
}

std::string usage_text() {
  return "usage: metricsd [serve|migrate] [--config FILE] [--SETTING VALUE]...\n"
         "       metricsd --version | --help | --example-config\n\n"
         "commands:\n"
         "  serve     run the daemon (default)\n"
         "  migrate   apply database migrations and exit\n\n"
         "settings (lowest precedence first: defaults, --config FILE (JSON), environment,\n"
         "flags):\n" +
         settings_help();
}

}  // namespace metricsd
