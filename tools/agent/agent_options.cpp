// metricsd-agent's flags (see agent_options.hpp). One declaration (tools/common/flags.hpp)
// drives parsing, the environment fallback and --help.
#include "tools/agent/agent_options.hpp"

#include <unistd.h>

#include <stdexcept>

#include "core/names.hpp"
#include "tools/agent/proc_parse.hpp"
#include "tools/common/flags.hpp"

namespace metricsd::tools {
namespace {

void add_label(Labels& labels, const std::string& kv) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::invalid_argument("expected key=value, got '" + kv + "'");
  labels[kv.substr(0, eq)] = kv.substr(eq + 1);
}

// The agent's flags, bound to `o`; its values now are the defaults --help shows.
void declare(FlagSet& flags, AgentOptions& o) {
  flags.add("server", &o.server)
      .arg("URL")
      .help("metricsd base URL (http://host:port)")
      .env("METRICSD_AGENT_SERVER");
  flags.add("node", &o.node)
      .arg("ID")
      .help("node id")
      .default_text("the host name")
      .env("METRICSD_AGENT_NODE");
  flags.add("type", &o.type)
      .arg("TYPE")
      .help("node type shown in the fleet")
      .env("METRICSD_AGENT_TYPE");
  flags
      .add_list(
          "label", [&o](const std::string& kv) { add_label(o.labels, kv); },
          [&o] { o.labels.clear(); })
      .arg("K=V")
      .help("node label, repeatable (env: comma-separated k=v,k2=v2)")
      .env("METRICSD_AGENT_LABELS");
  flags.add("interval-s", &o.interval_s)
      .arg("SECONDS")
      .help("collection and heartbeat interval")
      .above(0)
      .max(86400)
      .env("METRICSD_AGENT_INTERVAL_S");
  flags.add("token-file", &o.token_file)
      .arg("PATH")
      .help("file holding the bearer token (else env METRICSD_TOKEN)")
      .env("METRICSD_AGENT_TOKEN_FILE");
  flags.add("exec", &o.exec)
      .arg("CMD")
      .help("shell command run every interval; its stdout lines (line protocol) are forwarded")
      .env("METRICSD_AGENT_EXEC");
  flags.add("exec-timeout-s", &o.exec_timeout_s)
      .arg("SECONDS")
      .help("deadline of --exec")
      .above(0)
      .max(3600)
      .env("METRICSD_AGENT_EXEC_TIMEOUT_S");
  flags.add("listen-lp", &o.listen_lp)
      .arg("ADDR:PORT")
      .help("loopback TCP port taking newline-delimited line protocol (e.g. 127.0.0.1:8094)")
      .env("METRICSD_AGENT_LISTEN_LP");
  flags.add("buffer-samples", &o.buffer_samples)
      .arg("N")
      .help("samples (and as many LP lines) kept while the server is unreachable")
      .range(1, 100000000)
      .env("METRICSD_AGENT_BUFFER_SAMPLES");
  flags.add("command-hook", &o.command_hook)
      .arg("PATH")
      .help("program run for each server command (JSON on stdin, args: type id)")
      .env("METRICSD_AGENT_COMMAND_HOOK");
  flags.add("hook-timeout-s", &o.hook_timeout_s)
      .arg("SECONDS")
      .help("deadline of the hook")
      .above(0)
      .max(3600)
      .env("METRICSD_AGENT_HOOK_TIMEOUT_S");
  flags.add("proc-root", &o.proc_root)
      .arg("DIR")
      .help("where /proc is")
      .env("METRICSD_AGENT_PROC_ROOT");
  flags.add("sys-root", &o.sys_root)
      .arg("DIR")
      .help("where /sys is")
      .env("METRICSD_AGENT_SYS_ROOT");
  flags.add("per-core", &o.per_core)
      .help("also send system.cpu_util{core=N}")
      .env("METRICSD_AGENT_PER_CORE");
  flags.add("gpu-source", &o.gpu_source)
      .arg("SOURCE")
      .help(
          "auto (NVML, else nvidia-smi, else none), nvml, nvidia-smi or none; nvml and nvidia-smi "
          "fail the start when unusable")
      .env("METRICSD_AGENT_GPU_SOURCE");
  flags.add("nvml-library", &o.nvml_library)
      .arg("PATH")
      .help("the NVML library to load")
      .env("METRICSD_AGENT_NVML_LIBRARY");
  flags.add("gpu-processes", &o.gpu_processes)
      .arg("N")
      .help("GPU processes sent as gpu.process_mem_mb, the node's top N by GPU memory (NVML)")
      .range(0, 1000)
      .env("METRICSD_AGENT_GPU_PROCESSES");
  flags.add("once", &o.once).help("collect and send once, then exit (0 when delivered)");
  flags.add("flush-timeout-s", &o.flush_timeout_s)
      .arg("SECONDS")
      .help("on SIGTERM, time allowed for the last flush")
      .above(0)
      .max(600)
      .env("METRICSD_AGENT_FLUSH_TIMEOUT_S");
  flags.add("request-timeout-s", &o.request_timeout_s)
      .arg("SECONDS")
      .help("deadline of each HTTP request")
      .above(0)
      .max(600)
      .env("METRICSD_AGENT_REQUEST_TIMEOUT_S");
  flags.add("log-level", &o.log_level)
      .arg("LEVEL")
      .help("trace, debug, info, warn, error")
      .env("METRICSD_AGENT_LOG_LEVEL");
  flags.add("help", &o.help).help("this help");
  flags.add("version", &o.version).help("print the version");
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
  FlagSet flags;
  declare(flags, o);
  flags.parse_env(getenv);
  flags.parse(args);
  if (o.server.rfind("http://", 0) != 0 || o.server.size() <= 7)
    throw FlagError("--server: expected http://host[:port], got '" + o.server + "'");
  if (o.node.empty()) o.node = host_name();
  if (!valid_node_id(o.node))
    throw FlagError("--node: '" + o.node +
                    "' is not a node id ([A-Za-z0-9][A-Za-z0-9._:-]{0,127})");
  if (!o.listen_lp.empty()) parse_loopback_listen(o.listen_lp);
  if (o.gpu_source != "auto" && o.gpu_source != "nvml" && o.gpu_source != "nvidia-smi" &&
      o.gpu_source != "none")
    throw FlagError("--gpu-source: expected auto, nvml, nvidia-smi or none, got '" + o.gpu_source +
                    "'");
  if (o.nvml_library.empty()) throw FlagError("--nvml-library: empty path");
  return o;
}

std::string agent_usage() {
  AgentOptions defaults;
  FlagSet flags;
  declare(flags, defaults);
  return "usage: metricsd-agent [--FLAG VALUE]...\n"
         "Sends this machine's metrics and heartbeats to metricsd. Exit codes: 0 ok, 1 failure,\n"
         "2 bad flag, 3 token refused by the server (401/403).\n\n" +
         flags.help();
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
