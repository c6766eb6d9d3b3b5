// metricsd-sim's flags (see sim_options.hpp).
#include "tools/sim/sim_options.hpp"

#include <functional>
#include <stdexcept>

#include "core/names.hpp"
#include "tools/agent/proc_parse.hpp"

namespace metricsd::tools {
namespace {

struct Flag {
  const char* name;
  const char* arg;  // "" for a switch
  const char* help;
  std::function<void(SimOptions&, const std::string&)> set;
};

double number(const std::string& flag, const std::string& v, double lo, double hi) {
  auto d = parse_double(v);
  if (!d || *d < lo || *d > hi)
    throw std::invalid_argument("--" + flag + ": expected a number in [" + std::to_string(lo) +
                                ", " + std::to_string(hi) + "], got '" + v + "'");
  return *d;
}

const std::vector<Flag>& flags() {
  static const std::vector<Flag> kFlags = {
      {"server", "URL", "metricsd base URL (http://127.0.0.1:8080)",
       [](SimOptions& o, const std::string& v) { o.server = v; }},
      {"nodes", "N", "simulated nodes (50; 1000+ for load)",
       [](SimOptions& o, const std::string& v) {
         o.nodes = static_cast<size_t>(number("nodes", v, 1, 100000));
       }},
      {"interval-s", "SECONDS", "each node's heartbeat interval (5)",
       [](SimOptions& o, const std::string& v) {
         o.interval_s = number("interval-s", v, 0.05, 3600);
       }},
      {"duration", "TIME", "how long to run: 90s, 15m, 2h, 1d (60s; at most 7d)",
       [](SimOptions& o, const std::string& v) {
         o.duration_s = parse_duration_s(v);
         if (o.duration_s <= 0 || o.duration_s > kMaxDurationS)
           throw std::invalid_argument("--duration: expected 1s..7d, got '" + v + "'");
       }},
      {"rate", "REQ_PER_S", "most requests per second, all senders together (500)",
       [](SimOptions& o, const std::string& v) { o.rate = number("rate", v, 0.1, 1e6); }},
      {"seed", "N", "random seed; the same seed gives the same values (1)",
       [](SimOptions& o, const std::string& v) {
         auto n = parse_u64(v);
         if (!n)
           throw std::invalid_argument("--seed: expected an unsigned integer, got '" + v + "'");
         o.seed = *n;
       }},
      {"senders", "N", "sender threads, one keep-alive connection each (4)",
       [](SimOptions& o, const std::string& v) {
         o.senders = static_cast<size_t>(number("senders", v, 1, 64));
       }},
      {"token-file", "PATH", "file holding the bearer token (else env METRICSD_TOKEN)",
       [](SimOptions& o, const std::string& v) { o.token_file = v; }},
      {"report-json", "PATH", "also write the final report as JSON to PATH",
       [](SimOptions& o, const std::string& v) { o.report_json = v; }},
      {"prefix", "TEXT", "node id prefix (sim): sim-gen-0001, sim-train-0006, sim-pi-0009",
       [](SimOptions& o, const std::string& v) {
         if (v.size() > 100 || !valid_node_id(v + "-train-0001"))
           throw std::invalid_argument("--prefix: '" + v + "' does not make valid node ids");
         o.prefix = v;
       }},
      {"outages-per-hour", "RATE", "chance per node per hour of going silent for 90-600 s (0.5)",
       [](SimOptions& o, const std::string& v) {
         o.outage_chance_per_hour = number("outages-per-hour", v, 0, 3600);
       }},
      {"cliffs-per-hour", "RATE", "chance per generation node per hour of a -50 % cliff (0.3)",
       [](SimOptions& o, const std::string& v) {
         o.cliff_chance_per_hour = number("cliffs-per-hour", v, 0, 3600);
       }},
      {"log-level", "LEVEL", "trace, debug, info, warn, error (info)",
       [](SimOptions& o, const std::string& v) { o.log_level = v; }},
      {"help", "", "this help", [](SimOptions& o, const std::string&) { o.help = true; }},
  };
  return kFlags;
}

}  // namespace

double parse_duration_s(const std::string& text) {
  if (text.empty()) return -1;
  double unit = 1;
  std::string num = text;
  switch (text.back()) {
    case 's':
      unit = 1;
      num.pop_back();
      break;
    case 'm':
      unit = 60;
      num.pop_back();
      break;
    case 'h':
      unit = 3600;
      num.pop_back();
      break;
    case 'd':
      unit = 86400;
      num.pop_back();
      break;
    default:
      break;
  }
  auto v = parse_double(num);
  return v && *v > 0 ? *v * unit : -1;
}

SimOptions parse_sim_options(const std::vector<std::string>& args) {
  SimOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
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
    flag->set(o, value);
  }
  if (o.server.rfind("http://", 0) != 0 || o.server.size() <= 7)
    throw std::invalid_argument("--server: expected http://host[:port], got '" + o.server + "'");
  return o;
}

std::string sim_usage() {
  std::string out =
      "usage: metricsd-sim [--FLAG VALUE]...\n"
      "Emulates a fleet of AI nodes (LLM generation, training, Raspberry Pi processing) against\n"
      "metricsd's public API and prints what it sent. Exit codes: 0 ok, 1 nothing delivered,\n"
      "2 bad flag, 3 token refused by the server.\n\n";
  for (const auto& f : flags()) {
    std::string left = std::string("  --") + f.name + (*f.arg ? std::string(" ") + f.arg : "");
    if (left.size() < 30) left.resize(30, ' ');
    out += left + " " + f.help + "\n";
  }
  return out;
}

}  // namespace metricsd::tools
