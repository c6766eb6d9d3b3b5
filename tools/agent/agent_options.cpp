// metricsd-agent's flags (see agent_options.hpp). One table drives parsing, the
// environment fallback and --help.
#include "tools/agent/agent_options.hpp"

#include <unistd.h>

#include <cmath>
#include <stdexcept>

#include "core/names.hpp"
#include "tools/agent/proc_parse.hpp"

namespace metricsd::tools {
namespace {

using Setter = std::function<void(AgentOptions&, const std::string&)>;

struct Flag {
  const char* name;  // without "--"
  const char* env;   // "" when none
  const char* arg;   // "" for a switch
  const char* help;
  Setter set;
};

double positive_seconds(const std::string& flag, const std::string& v, double max) {
  auto d = parse_double(v);
  if (!d || *d <= 0 || *d > max)
    throw std::invalid_argument("--" + flag + ": expected seconds in (0, " +
                                std::to_string(static_cast<int>(max)) + "], got '" + v + "'");
  return *d;
}

void add_label(AgentOptions& o, const std::string& kv) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::invalid_argument("--label: expected key=value, got '" + kv + "'");
  o.labels[kv.substr(0, eq)] = kv.substr(eq + 1);
}

bool truthy(const std::string& v) {
  return v == "1" || v == "true" || v == "yes";
}

const std::vector<Flag>& flags() {
  static const std::vector<Flag> kFlags = {
      {"server", "METRICSD_AGENT_SERVER", "URL", "metricsd base URL (http://host:port)",
       [](AgentOptions& o, const std::string& v) { o.server = v; }},
      {"node", "METRICSD_AGENT_NODE", "ID", "node id (default: the host name)",
       [](AgentOptions& o, const std::string& v) { o.node = v; }},
      {"type", "METRICSD_AGENT_TYPE", "TYPE", "node type shown in the fleet (default node)",
       [](AgentOptions& o, const std::string& v) { o.type = v; }},
      {"label", "METRICSD_AGENT_LABELS", "K=V",
       "node label, repeatable (env: comma-separated k=v,k2=v2)",
       [](AgentOptions& o, const std::string& v) { add_label(o, v); }},
      {"interval-s", "METRICSD_AGENT_INTERVAL_S", "SECONDS",
       "collection and heartbeat interval (10)",
       [](AgentOptions& o, const std::string& v) {
         o.interval_s = positive_seconds("interval-s", v, 86400);
       }},
      {"token-file", "METRICSD_AGENT_TOKEN_FILE", "PATH",
       "file holding the bearer token (else env METRICSD_TOKEN)",
       [](AgentOptions& o, const std::string& v) { o.token_file = v; }},
      {"exec", "METRICSD_AGENT_EXEC", "CMD",
       "shell command run every interval; its stdout lines (line protocol) are forwarded",
       [](AgentOptions& o, const std::string& v) { o.exec = v; }},
      {"exec-timeout-s", "METRICSD_AGENT_EXEC_TIMEOUT_S", "SECONDS", "deadline of --exec (5)",
       [](AgentOptions& o, const std::string& v) {
         o.exec_timeout_s = positive_seconds("exec-timeout-s", v, 3600);
       }},
      {"listen-lp", "METRICSD_AGENT_LISTEN_LP", "ADDR:PORT",
       "loopback TCP port taking newline-delimited line protocol (e.g. 127.0.0.1:8094)",
       [](AgentOptions& o, const std::string& v) { o.listen_lp = v; }},
      {"buffer-samples", "METRICSD_AGENT_BUFFER_SAMPLES", "N",
       "samples (and as many LP lines) kept while the server is unreachable (100000)",
       [](AgentOptions& o, const std::string& v) {
         auto n = parse_u64(v);
         if (!n || *n == 0 || *n > 100000000)
           throw std::invalid_argument("--buffer-samples: expected 1..100000000, got '" + v + "'");
         o.buffer_samples = *n;
       }},
      {"command-hook", "METRICSD_AGENT_COMMAND_HOOK", "PATH",
       "program run for each server command (JSON on stdin, args: type id)",
       [](AgentOptions& o, const std::string& v) { o.command_hook = v; }},
      {"hook-timeout-s", "METRICSD_AGENT_HOOK_TIMEOUT_S", "SECONDS", "deadline of the hook (30)",
       [](AgentOptions& o, const std::string& v) {
         o.hook_timeout_s = positive_seconds("hook-timeout-s", v, 3600);
       }},
      {"proc-root", "METRICSD_AGENT_PROC_ROOT", "DIR", "where /proc is (/proc)",
       [](AgentOptions& o, const std::string& v) { o.proc_root = v; }},
      {"sys-root", "METRICSD_AGENT_SYS_ROOT", "DIR", "where /sys is (/sys)",
       [](AgentOptions& o, const std::string& v) { o.sys_root = v; }},
      {"per-core", "METRICSD_AGENT_PER_CORE", "", "also send system.cpu_util{core=N}",
       [](AgentOptions& o, const std::string& v) { o.per_core = v.empty() || truthy(v); }},
      {"once", "", "", "collect and send once, then exit (0 when delivered)",
       [](AgentOptions& o, const std::string&) { o.once = true; }},
      {"flush-timeout-s", "METRICSD_AGENT_FLUSH_TIMEOUT_S", "SECONDS",
       "on SIGTERM, time allowed for the last flush (5)",
       [](AgentOptions& o, const std::string& v) {
         o.flush_timeout_s = positive_seconds("flush-timeout-s", v, 600);
       }},
      {"request-timeout-s", "METRICSD_AGENT_REQUEST_TIMEOUT_S", "SECONDS",
       "deadline of each HTTP request (10)",
       [](AgentOptions& o, const std::string& v) {
         o.request_timeout_s = positive_seconds("request-timeout-s", v, 600);
       }},
      {"log-level", "METRICSD_AGENT_LOG_LEVEL", "LEVEL", "trace, debug, info, warn, error (info)",
       [](AgentOptions& o, const std::string& v) { o.log_level = v; }},
      {"help", "", "", "this help", [](AgentOptions& o, const std::string&) { o.help = true; }},
      {"version", "", "", "print the version",
       [](AgentOptions& o, const std::string&) { o.version = true; }},
  };
  return kFlags;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

AgentOptions parse_agent_options(const std::vector<std::string>& args,
                                 const std::function<const char*(const char*)>& getenv) {
  AgentOptions o;
  for (const auto& f : flags()) {
    if (!*f.env) continue;
    const char* v = getenv(f.env);
    if (!v || !*v) continue;
    if (std::string(f.name) == "label") {
      std::string all = v;
      size_t start = 0;
      while (start <= all.size()) {
        auto comma = all.find(',', start);
        std::string one = all.substr(start, comma == std::string::npos ? comma : comma - start);
        if (!one.empty()) add_label(o, one);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else {
      f.set(o, v);
    }
  }
  bool labels_from_flags = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + a + "'");
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Flag* flag = nullptr;
    for (const auto& f : flags())
      if (name == f.name) flag = &f;
    if (!flag) throw std::invalid_argument("unknown flag --" + name + " (see --help)");
    if (*flag->arg && !has_value) {
      if (i + 1 >= args.size()) throw std::invalid_argument("--" + name + " needs a value");
      value = args[++i];
    }
    if (name == "label" && !labels_from_flags) {
      o.labels.clear();  // flags replace the environment's labels
      labels_from_flags = true;
    }
    flag->set(o, value);
  }
  if (o.server.rfind("http://", 0) != 0 || o.server.size() <= 7)
    throw std::invalid_argument("--server: expected http://host[:port], got '" + o.server + "'");
  if (o.node.empty()) o.node = host_name();
  if (!valid_node_id(o.node))
    throw std::invalid_argument("--node: '" + o.node +
                                "' is not a node id ([A-Za-z0-9][A-Za-z0-9._:-]{0,127})");
  if (!o.listen_lp.empty()) parse_loopback_listen(o.listen_lp);
  return o;
}

std::string agent_usage() {
  std::string out =
      "usage: metricsd-agent [--FLAG VALUE]...\n"
      "Sends this machine's metrics and heartbeats to metricsd. Exit codes: 0 ok, 1 failure,\n"
      "2 bad flag, 3 token refused by the server (401/403).\n\n";
  for (const auto& f : flags()) {
    std::string left = std::string("  --") + f.name + (*f.arg ? std::string(" ") + f.arg : "");
    if (left.size() < 30) left.resize(30, ' ');
    out += left + " " + f.help + (*f.env ? std::string(" [env ") + f.env + "]" : "") + "\n";
  }
  return out;
}

std::pair<std::string, unsigned short> parse_loopback_listen(const std::string& spec) {
  auto colon = spec.rfind(':');
  if (colon == std::string::npos)
    throw std::invalid_argument("--listen-lp: expected host:port, got '" + spec + "'");
  std::string host = spec.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto port = parse_u64(spec.substr(colon + 1));
  if (!port || *port > 65535)
    throw std::invalid_argument("--listen-lp: bad port in '" + spec + "'");
  if (host == "localhost") host = "127.0.0.1";
  if (host.rfind("127.", 0) != 0 && host != "::1")
    throw std::invalid_argument("--listen-lp: only loopback addresses are allowed, got '" + host +
                                "'");
  return {host, static_cast<unsigned short>(*port)};
}

}  // namespace metricsd::tools
