// Test harness; see harness.hpp.
#include "harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "core/subprocess.hpp"
#include "storage/embedded_postgres.hpp"

extern char** environ;

namespace metricsd::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

std::mutex g_daemons_mu;
std::map<int, fs::path> g_daemon_dirs;  // port -> data dir of a running test daemon

}  // namespace

std::string admin_token(int port) {
  fs::path dir;
  {
    std::lock_guard lock(g_daemons_mu);
    auto it = g_daemon_dirs.find(port);
    if (it == g_daemon_dirs.end()) return "";
    dir = it->second;
  }
  std::ifstream f(dir / "admin.token");
  std::string token;
  std::getline(f, token);
  return token;
}

HttpResult http_request(int port, const std::string& method, const std::string& target,
                        const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(30s);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  if (req.method() == http::verb::unknown) req.method_string(method);
  req.set(http::field::host, "127.0.0.1");
  bool auth_given = false;
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, "authorization")) {
      auth_given = true;
      if (v.empty()) continue;  // explicitly none
    }
    req.set(k, v);
  }
  if (!auth_given)
    if (auto t = admin_token(port); !t.empty()) req.set(http::field::authorization, "Bearer " + t);
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();
  // A server may answer (413, 431) and stop reading before the request is all sent; like
  // curl, read its answer even when the rest of the request could not be written.
  beast::error_code write_ec;
  http::write(stream, req, write_ec);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 30);
  parser.skip(method == "HEAD");
  beast::error_code read_ec;
  http::read(stream, buf, parser, read_ec);
  if (read_ec) throw beast::system_error(write_ec ? write_ec : read_ec);
  HttpResult out;
  auto& res = parser.get();
  out.status = res.result_int();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = res.body();
  return out;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

std::string raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
  stream.expires_after(timeout);
  asio::write(stream, asio::buffer(bytes));
  std::string out;
  char buf[4096];
  for (;;) {
    beast::error_code ec;
    stream.expires_after(timeout);
    size_t n = stream.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::path("/tmp") /
          ("metricsd-test-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 1000000));
  fs::create_directories(path_);
  fs::permissions(path_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::replace);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {

pid_t spawn(const std::vector<std::string>& args, const fs::path& log,
            const std::vector<std::pair<std::string, std::string>>& env) {
  // TEST_METRICSD_BINARY runs the suite against another build (e.g. a sanitizer one).
  const char* other = std::getenv("TEST_METRICSD_BINARY");
  SubprocessSpec spec;
  spec.argv = {other && *other ? other : METRICSD_BINARY};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env_set = env;
  // The daemon reads every METRICSD_* variable as a setting and refuses unknown ones: the
  // build scripts' own (METRICSD_BUILD_DIR, METRICSD_CCACHE, ...) and a developer's shell
  // settings stay out; a test names what it wants through `env`.
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.rfind("METRICSD_", 0) == 0) spec.env_remove.emplace_back(kv.substr(0, kv.find('=')));
  }
  spec.stdout_ = Stdio::to_file(log.string());
  spec.stderr_ = Stdio::to_stdout();
  spec.close_other_fds = true;  // nothing of the test's (its sockets) leaks into the daemon
  Spawned s = spawn_subprocess(spec);
  if (!s.started()) ADD_FAILURE() << "starting metricsd: " << s.describe_failure();
  return s.pid;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

namespace {

// Removes a directory at exit (the per-process template).
struct RemoveAtExit {
  fs::path path;
  ~RemoveAtExit() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

void make_template(const fs::path& dir) {
  // Built next to its final place and renamed, so a cluster found there is complete.
  fs::path tmp = dir.string() + ".tmp-" + std::to_string(getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  // Like TempDir: the postgres user (when the tests run as root) must reach its socket.
  fs::permissions(tmp, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::replace);
  storage::EmbeddedPostgres::Options o;
  o.data_dir = tmp;
  o.settings = {"fsync=off"};  // only this first start; the copies run as the daemon says
  {
    storage::EmbeddedPostgres pg(o);
    pg.start();  // initdb, start, CREATE DATABASE metricsd: what a daemon's first start does
    pg.stop();
  }
  for (const char* leftover : {"run", "postgres.log"})
    fs::remove_all(tmp / leftover, ec);
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir);
}

}  // namespace

fs::path cluster_template() {
  static std::mutex mu;
  static fs::path ready;
  static RemoveAtExit own;
  std::lock_guard lock(mu);
  if (!ready.empty()) return ready;
  const char* shared = std::getenv("TEST_METRICSD_CLUSTER_TEMPLATE");
  fs::path dir = shared && *shared
                     ? fs::path(shared)
                     : fs::path("/tmp") / ("metricsd-test-template-" + std::to_string(getpid()));
  // One process makes it; the others (ctest runs suites side by side) wait for it.
  int fd = ::open((dir.string() + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open the template lock for " + dir.string());
  ::flock(fd, LOCK_EX);
  try {
    if (!fs::exists(dir / "postgres" / "PG_VERSION")) make_template(dir);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  if (!(shared && *shared)) {
    own.path = dir;
    fs::remove(dir.string() + ".lock");
  }
  ready = dir;
  return ready;
}

Daemon::Daemon(fs::path data_dir, std::vector<std::string> args,
               std::vector<std::pair<std::string, std::string>> env, Cluster cluster)
    : data_dir_(std::move(data_dir)) {
  static int counter = 0;
  log_path_ = fs::path("/tmp") / ("metricsd-test-log-" + std::to_string(getpid()) + "-" +
                                  std::to_string(++counter) + ".log");
  const bool external = std::find(args.begin(), args.end(), "--database-url") != args.end() ||
                        std::any_of(env.begin(), env.end(), [](const auto& kv) {
                          return kv.first == "METRICSD_DATABASE_URL";
                        });
  if (cluster == Cluster::from_template && !external && !fs::exists(data_dir_ / "postgres")) {
    fs::create_directories(data_dir_);
    // cp -a keeps the owner (postgres, when the tests run as root) and the modes.
    SubprocessSpec cp;
    cp.argv = {"/bin/cp", "-a", (cluster_template() / "postgres").string(),
               (data_dir_ / "postgres").string()};
    if (int rc = run_subprocess(cp); rc != 0)
      ADD_FAILURE() << "copying the template cluster into " << data_dir_ << ": exit code " << rc;
  }
  std::vector<std::string> full = {"serve", "--listen", "127.0.0.1:0", "--data-dir",
                                   data_dir_.string()};
  full.insert(full.end(), args.begin(), args.end());
  pid_ = spawn(full, log_path_, env);
}

Daemon::~Daemon() {
  if (port_ != 0) {
    std::lock_guard lock(g_daemons_mu);
    g_daemon_dirs.erase(port_);
  }
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  if (!::testing::Test::HasFailure()) fs::remove(log_path_, ec);
}

bool Daemon::wait_listening(std::chrono::milliseconds timeout) {
  static const std::regex re(R"(listening on https?://127\.0\.0\.1:(\d+))");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string text = slurp(log_path_);
    if (std::regex_search(text, m, re)) {
      port_ = std::stoi(m[1]);
      std::lock_guard lock(g_daemons_mu);
      g_daemon_dirs[port_] = data_dir_;
      return true;
    }
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

bool Daemon::wait_ready(std::chrono::milliseconds timeout) {
  if (port_ == 0 && !wait_listening(timeout)) return false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (http_request(port_, "GET", "/readyz").status == 200) return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

void Daemon::signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::optional<int> Daemon::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

std::string Daemon::log() const {
  return slurp(log_path_);
}

int Daemon::run(const std::vector<std::string>& args, std::string* output,
                const std::vector<std::pair<std::string, std::string>>& env) {
  static int counter = 0;
  fs::path log = fs::path("/tmp") / ("metricsd-test-run-" + std::to_string(getpid()) + "-" +
                                     std::to_string(++counter) + ".log");
  pid_t pid = spawn(args, log, env);
  int status = 0;
  waitpid(pid, &status, 0);
  if (output) *output = slurp(log);
  fs::remove(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

double metric_value(int port, const std::string& series, double missing) {
  std::istringstream in(http_request(port, "GET", "/metrics").body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return missing;
}

pid_t embedded_postgres_pid(const fs::path& data_dir) {
  std::ifstream f(data_dir / "postgres" / "postmaster.pid");
  pid_t pid = 0;
  f >> pid;
  return pid;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0) return false;
  // A zombie is not alive.
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(f, s);
  auto close = s.rfind(')');
  return close == std::string::npos || s.size() < close + 3 || s[close + 2] != 'Z';
}

}  // namespace metricsd::test
