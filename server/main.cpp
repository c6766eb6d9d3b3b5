// metricsd: command dispatch. Settings errors exit 2 with one line naming the setting.
#include <malloc.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "core/cli.hpp"
#include "core/settings.hpp"
#include "core/version.hpp"
#include "server/app.hpp"
#include "server/backup_command.hpp"
#include "server/logging.hpp"
#include "server/migrate_command.hpp"
#include "server/token_command.hpp"

extern char** environ;

namespace {

metricsd::Settings load(const metricsd::CommandLine& cli) {
  metricsd::SettingsSources src;
  if (cli.config_file) {
    std::ifstream f(*cli.config_file);
    if (!f)
      throw metricsd::SettingsError("config file " + *cli.config_file +
                                    ": cannot read: " + std::strerror(errno));
    std::stringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw metricsd::SettingsError("config file " + *cli.config_file + ": cannot read");
    src.file_text = ss.str();
    src.file_name = *cli.config_file;
  }
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("METRICSD_", 0) != 0) continue;
    // The node agent's variables may share an environment with the daemon.
    if (kv.rfind("METRICSD_TOKEN=", 0) == 0 || kv.rfind("METRICSD_AGENT_", 0) == 0) continue;
    auto eq = kv.find('=');
    src.env.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
  }
  src.flags = cli.settings;
  return metricsd::resolve_settings(src);
}

// Runs the command; the exit code.
int run_command(const metricsd::CommandLine& cli, const metricsd::Settings& settings) {
  if (cli.command == "migrate") return metricsd::server::migrate(settings);
  if (cli.command == "token") return metricsd::server::token_command(settings, cli);
  if (cli.command == "backup") return metricsd::server::backup_command(settings, cli);
  if (cli.command == "restore") return metricsd::server::restore_command(settings, cli);
  // Request bodies and commit batches are hundreds of KiB to tens of MiB. Above glibc's
  // mmap threshold each would be fresh pages (a page fault per 4 KiB, then munmap); kept
  // in the heap they are reused. Freed memory beyond 64 MiB is still given back.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // glibc gives every thread that allocates under contention an arena of its own (up to 8
  // per core), and each keeps what was freed in it: under the peers' ingest load the
  // daemon's PSS was 660 MB with the default and 358 MB with two arenas, at the same rate
  // (bench/run_memory.sh). Half the cores, at least two.
  mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency() / 2)));
  return metricsd::server::serve(settings);
}

}  // namespace

int main(int argc, char** argv) {
  metricsd::CommandLine cli;
  metricsd::Settings settings;
  try {
    cli = metricsd::parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
    if (cli.help) {
      std::cout << metricsd::usage_text();
      return 0;
    }
    if (cli.version) {
      std::cout << "metricsd " << metricsd::kVersion << " (" << metricsd::kGitCommit << ", "
                << metricsd::kCompiler << ")\n";
      return 0;
    }
    if (cli.example_config) {
      std::cout << metricsd::example_config();
      return 0;
    }
    settings = load(cli);
  } catch (const metricsd::SettingsError& e) {
    std::cerr << "metricsd: " << e.what() << "\n";
    return 2;
  }
  metricsd::server::setup_logging(settings.log_level, settings.log_format,
                                  static_cast<size_t>(settings.log_queue_messages));
  int rc = run_command(cli, settings);
  metricsd::server::flush_logging();
  return rc;
}
