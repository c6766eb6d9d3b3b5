// Test harness: runs the real metricsd binary on an ephemeral loopback port with its own
// data dir (and so its own embedded PostgreSQL), and speaks real HTTP to it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace metricsd::test {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string body;
  std::string header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? "" : it->second;
  }
};

// The first-start admin token of the test daemon listening on `port` ("" if none).
std::string admin_token(int port);

// Polls `pred` every 100 ms until it holds (true) or `timeout` passes (its last answer).
bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// One request on a new connection. Unless `headers` name Authorization, it carries the
// admin token of the daemon on `port`; an empty Authorization value sends none.
HttpResult http_request(int port, const std::string& method, const std::string& target,
                        const std::string& body = "",
                        const std::vector<std::pair<std::string, std::string>>& headers = {});

// Raw bytes in, everything the server sends until it closes (or the timeout) out.
std::string raw_exchange(int port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

// A fresh directory under /tmp, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// How a test daemon's embedded PostgreSQL cluster comes to be.
enum class Cluster {
  // A copy of a cluster made once per test run (see cluster_template()), placed in
  // <data_dir>/postgres before the daemon starts, which then finds it and skips initdb.
  // Only when the data dir has no cluster yet and the daemon gets no database URL.
  from_template,
  // The daemon runs initdb itself, as on a real first start.
  fresh_initdb,
};

// The directory holding the template cluster (<dir>/postgres): what EmbeddedPostgres
// creates on a first start (initdb, then the empty `metricsd` database), stopped cleanly.
// Made once, under a file lock, at $TEST_METRICSD_CLUSTER_TEMPLATE (ctest sets it for all
// integration tests, so the suites running side by side share one; it removes it at the
// end), else in a directory of this process's removed at its exit.
std::filesystem::path cluster_template();

class Daemon {
 public:
  // Starts `metricsd serve --listen 127.0.0.1:0 --data-dir <dir> args...`.
  Daemon(std::filesystem::path data_dir, std::vector<std::string> args = {},
         std::vector<std::pair<std::string, std::string>> env = {},
         Cluster cluster = Cluster::from_template);
  ~Daemon();  // SIGKILL if still running

  // Waits for the "listening on" log line; false if the process exited first.
  bool wait_listening(std::chrono::milliseconds timeout = std::chrono::seconds(90));
  // Polls /readyz until 200.
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(90));
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for the exit; the exit code (128 + signal if killed), or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  std::string log() const;  // everything the daemon printed

  // Runs the binary to completion; returns the exit code, output in *output.
  static int run(const std::vector<std::string>& args, std::string* output,
                 const std::vector<std::pair<std::string, std::string>>& env = {});

 private:
  std::filesystem::path data_dir_, log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// The value of one series line (name plus labels, e.g. `x_total{a="b"}`) in the daemon's
// /metrics, or `missing` when it is absent.
double metric_value(int port, const std::string& series, double missing);

// Process id in <data_dir>/postgres/postmaster.pid, or 0.
pid_t embedded_postgres_pid(const std::filesystem::path& data_dir);
bool process_alive(pid_t pid);

}  // namespace metricsd::test
