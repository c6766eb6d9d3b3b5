// The backup and restore commands; see backup_command.hpp.
#include "server/backup_command.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>

#include "core/time_parse.hpp"
#include "core/version.hpp"
#include "server/storage_setup.hpp"
#include "storage/child_process.hpp"
#include "storage/migrations.hpp"
#include "storage/storage_pool.hpp"

namespace fs = std::filesystem;

namespace metricsd::server {
namespace {

constexpr const char* kManifest = "metricsd-backup.json";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool refuse_external(const Settings& s, const std::string& command) {
  if (s.database_url.empty()) return false;
  std::cerr << fmt::format(
      "metricsd: {} works on the embedded PostgreSQL; with database.url set, back up that "
      "database with its own tools (pg_basebackup, pg_dump; see the README's Operations "
      "section)\n",
      command);
  return true;
}

// Runs a PostgreSQL tool with its output in `log`; "" on success, else why it failed
// (the exit status and the end of its output).
std::string run_tool(const std::vector<std::string>& argv, const fs::path& log) {
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  storage::SpawnOptions o;
  o.argv = argv;
  o.output_fd = fd;
  int rc = storage::run_process(o);
  if (fd >= 0) close(fd);
  std::ifstream f(log);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  fs::remove(log);
  if (rc == 0) return "";
  if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
  return fmt::format("{} failed (exit code {}): {}", fs::path(argv[0]).filename().string(), rc,
                     text);
}

uint64_t tree_bytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec))
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  return total;
}

// pg_verifybackup checks every file against the backup's manifest (sizes, checksums) and
// the WAL needed to make it consistent. "" when it holds.
std::string verify(const fs::path& bindir, const fs::path& cluster, const fs::path& scratch) {
  if (!fs::exists(bindir / "pg_verifybackup")) {
    spdlog::warn("pg_verifybackup not found in {}; the backup is not verified", bindir.string());
    return "";
  }
  return run_tool({(bindir / "pg_verifybackup").string(), "--quiet", cluster.string()},
                  scratch / ".pg_verifybackup.log");
}

// Hands a copied cluster to the postgres system user when metricsd is root (the embedded
// server runs as that user) and makes it private, as PostgreSQL requires.
void hand_over(const fs::path& cluster) {
  fs::permissions(cluster, fs::perms::owner_all, fs::perm_options::replace);
  if (geteuid() != 0) return;
  struct passwd* pw = getpwnam("postgres");
  if (!pw) throw std::runtime_error("there is no `postgres` system user to own the cluster");
  auto give = [&](const fs::path& p) {
    if (lchown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("cannot hand " + p.string() + " to the postgres user");
  };
  give(cluster);
  for (const auto& entry : fs::recursive_directory_iterator(cluster))
    give(entry.path());
}

}  // namespace

int backup_command(const Settings& s, const CommandLine& cli) {
  if (refuse_external(s, "backup")) return 2;
  fs::path target = fs::weakly_canonical(fs::absolute(cli.arguments[0]));
  std::error_code ec;
  if (fs::exists(target, ec) && !fs::is_empty(target, ec)) {
    std::cerr << fmt::format(
        "metricsd: backup directory {} is not empty; name a new or empty directory\n",
        target.string());
    return 2;
  }
  fs::create_directories(target, ec);
  if (ec) {
    std::cerr << fmt::format("metricsd: cannot create {}: {}\n", target.string(), ec.message());
    return 2;
  }
  fs::permissions(target, fs::perms::owner_all, fs::perm_options::replace, ec);

  Storage st;  // empty when a running daemon holds the data dir
  if (int rc = attach_storage(s, st); rc != 0) return rc;
  try {
    auto started = std::chrono::steady_clock::now();
    int schema = 0;
    {
      pqxx::connection c(storage::StoragePool::with_client_params(
          st.conninfo, static_cast<int>(s.database_connect_timeout_ms)));
      schema = storage::current_schema_version(c);
    }
    fs::path bindir = storage::EmbeddedPostgres::find_bindir();
    fs::path cluster = target / "postgres";
    spdlog::info("backup: copying the embedded cluster into {}", cluster.string());
    // --checkpoint=fast: start at once rather than at the next scheduled checkpoint;
    // -X stream: the WAL written meanwhile comes along, so the copy is consistent alone.
    std::string failed =
        run_tool({(bindir / "pg_basebackup").string(), "--dbname=" + st.conninfo,
                  "--pgdata=" + cluster.string(), "--wal-method=stream", "--checkpoint=fast",
                  "--no-password", "--label=metricsd backup " + format_rfc3339_ms(now_ms())},
                 target / ".pg_basebackup.log");
    if (failed.empty()) failed = verify(bindir, cluster, target);
    if (!failed.empty()) {
      spdlog::error("backup into {}: {}", target.string(), failed);
      return 1;
    }
    nlohmann::json manifest = {{"format", 1},
                               {"created", format_rfc3339_ms(now_ms())},
                               {"metricsd_version", kVersion},
                               {"schema_version", schema},
                               {"source_data_dir", absolute_data_dir(s).string()}};
    std::ofstream(target / kManifest) << manifest.dump(2) << "\n";
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cerr << fmt::format("backup of {:.1f} MB written to {} in {:.1f} s (schema version {})\n",
                             static_cast<double>(tree_bytes(cluster)) / 1e6, target.string(), secs,
                             schema);
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("backup into {}: {}", target.string(), e.what());
    return 1;
  }
}

int restore_command(const Settings& s, const CommandLine& cli) {
  if (refuse_external(s, "restore")) return 2;
  fs::path source = fs::weakly_canonical(fs::absolute(cli.arguments[0]));
  fs::path backup_cluster = source / "postgres";
  nlohmann::json manifest;
  {
    std::ifstream f(source / kManifest);
    manifest = nlohmann::json::parse(f, nullptr, false);
  }
  if (!manifest.is_object() || !fs::exists(backup_cluster / "backup_label")) {
    std::cerr << fmt::format(
        "metricsd: {} is not a backup made by `metricsd backup` (it needs {} and "
        "postgres/backup_label)\n",
        source.string(), kManifest);
    return 2;
  }
  int schema = manifest.value("schema_version", 0);
  int known =
      storage::embedded_migrations().empty() ? 0 : storage::embedded_migrations().back().version;
  if (schema > known) {
    std::cerr << fmt::format(
        "metricsd: the backup has schema version {}, newer than this metricsd knows ({}); "
        "restore it with the version that made it ({})\n",
        schema, known, manifest.value("metricsd_version", std::string("unknown")));
    return 2;
  }
  fs::path dir = absolute_data_dir(s);
  Storage st;
  try {
    st.lock.emplace(dir);
  } catch (const std::exception& e) {
    std::cerr << "metricsd: restore needs the daemon stopped: " << e.what() << "\n";
    return 1;
  }
  fs::path current = dir / "postgres";
  fs::path aside = dir / ("postgres.before-restore-" + std::to_string(now_ms() / 1000));
  if (!cli.restore_confirmed) {
    std::cerr << fmt::format(
        "metricsd: restore would replace {} with the backup in {} (made {} by metricsd {})"
        "{}; run again with --yes\n",
        current.string(), source.string(), manifest.value("created", std::string("?")),
        manifest.value("metricsd_version", std::string("?")),
        fs::exists(current) ? "; the current cluster would be kept as " + aside.string() : "");
    return 2;
  }
  try {
    fs::path bindir = storage::EmbeddedPostgres::find_bindir();
    if (std::string failed = verify(bindir, backup_cluster, dir); !failed.empty()) {
      spdlog::error("restore from {}: the backup does not verify: {}", source.string(), failed);
      return 1;
    }
    fs::path staging = dir / "postgres.restore-tmp";
    fs::remove_all(staging);
    fs::copy(backup_cluster, staging, fs::copy_options::recursive);
    // Only the server's files: the manifest is the tool's, not PostgreSQL's.
    fs::remove(staging / "backup_manifest");
    hand_over(staging);
    if (fs::exists(current)) fs::rename(current, aside);
    fs::rename(staging, current);
    spdlog::info("restore: {} now holds the backup from {}", current.string(), source.string());
  } catch (const std::exception& e) {
    spdlog::error("restore from {}: {}", source.string(), e.what());
    return 1;
  }
  // Start it once: PostgreSQL replays the backup's WAL; a backup that cannot come up is
  // found now, not at the daemon's next start.
  st.lock.reset();
  if (int rc = open_storage(s, st); rc != 0) return rc;
  try {
    pqxx::connection c(storage::StoragePool::with_client_params(
        st.conninfo, static_cast<int>(s.database_connect_timeout_ms)));
    int restored = storage::current_schema_version(c);
    st.embedded->stop();
    std::cerr << fmt::format("restored {} (schema version {}){}\n", current.string(), restored,
                             fs::exists(aside) ? "; the previous cluster is kept as " +
                                                     aside.string() + " (delete it when done)"
                                               : "");
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("restore: the restored cluster does not open: {}", e.what());
    return 1;
  }
}

}  // namespace metricsd::server
