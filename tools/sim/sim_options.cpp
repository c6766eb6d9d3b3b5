// metricsd-sim's flags (see sim_options.hpp), declared once for parsing and --help
// (tools/common/flags.hpp).
#include "tools/sim/sim_options.hpp"

#include <stdexcept>

#include "core/names.hpp"
#include "tools/agent/proc_parse.hpp"
#include "tools/common/flags.hpp"

namespace metricsd::tools {
namespace {

// The simulator's flags, bound to `o`; its values now are the defaults --help shows.
void declare(FlagSet& flags, SimOptions& o) {
  flags.add("server", &o.server).arg("URL").help("metricsd base URL");
  flags.add("nodes", &o.nodes).arg("N").help("simulated nodes (1000+ for load)").range(1, 100000);
  flags.add("interval-s", &o.interval_s)
      .arg("SECONDS")
      .help("each node's heartbeat interval")
      .range(0.05, 3600);
  flags
      .add("duration",
           [&o](const std::string& v) {
             const double s = parse_duration_s(v);
             if (s <= 0 || s > kMaxDurationS)
               throw std::invalid_argument("expected 1s..7d, got '" + v + "'");
             o.duration_s = s;
           })
      .arg("TIME")
      .help("how long to run: 90s, 15m, 2h, 1d (at most 7d)")
      .default_text("60s");
  flags.add("rate", &o.rate)
      .arg("REQ_PER_S")
      .help("most requests per second, all senders together")
      .range(0.1, 1e6);
  flags.add("seed", &o.seed).arg("N").help("random seed; the same seed gives the same values");
  flags.add("senders", &o.senders)
      .arg("N")
      .help("sender threads, one keep-alive connection each")
      .range(1, 64);
  flags.add("token-file", &o.token_file)
      .arg("PATH")
      .help("file holding the bearer token (else env METRICSD_TOKEN)");
  flags.add("report-json", &o.report_json)
      .arg("PATH")
      .help("also write the final report as JSON to PATH");
  flags
      .add("prefix",
           [&o](const std::string& v) {
             if (v.size() > 100 || !valid_node_id(v + "-train-0001"))
               throw std::invalid_argument("'" + v + "' does not make valid node ids");
             o.prefix = v;
           })
      .arg("TEXT")
      .help("node id prefix: sim-gen-0001, sim-train-0006, sim-pi-0009")
      .default_text(o.prefix);
  flags.add("outages-per-hour", &o.outage_chance_per_hour)
      .arg("RATE")
      .help("chance per node per hour of going silent for 90-600 s")
      .range(0, 3600);
  flags.add("cliffs-per-hour", &o.cliff_chance_per_hour)
      .arg("RATE")
      .help("chance per generation node per hour of a -50 % cliff")
      .range(0, 3600);
  flags.add("cliff-ramp-s", &o.cliff_ramp_s)
      .arg("SECONDS")
      .help("how long a cliff takes to fall (default: 60-240 s at random)")
      .range(0, 3600);
  flags.add("log-level", &o.log_level).arg("LEVEL").help("trace, debug, info, warn, error");
  flags.add("help", &o.help).help("this help");
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
  FlagSet flags;
  declare(flags, o);
  flags.parse(args);
  if (o.server.rfind("http://", 0) != 0 || o.server.size() <= 7)
    throw FlagError("--server: expected http://host[:port], got '" + o.server + "'");
  return o;
}

std::string sim_usage() {
  SimOptions defaults;
  FlagSet flags;
  declare(flags, defaults);
  return "usage: metricsd-sim [--FLAG VALUE]...\n"
         "Emulates a fleet of AI nodes (LLM generation, training, Raspberry Pi processing) "
         "against\n"
         "metricsd's public API and prints what it sent. Exit codes: 0 ok, 1 nothing delivered,\n"
         "2 bad flag, 3 token refused by the server.\n\n" +
         flags.help();
}

}  // namespace metricsd::tools
