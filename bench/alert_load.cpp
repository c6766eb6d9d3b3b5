// metricsd-alert-load: the alert benchmark. Paced line-protocol writers keep a background
// load on /api/v1/write (the stream benchmark's writers: `cat<c>,node=n<k> f0=..`), while a
// prober writes one crossing sample at a time (`probe,node=p<k> v=100`) and a webhook
// receiver on --listen takes the notifications. For each firing of a probe node it records
// how long after the probe's POST was answered (committed) and after it was sent the
// webhook arrived. Between probes of one node the prober writes v=0 to resolve its alert;
// before each probe the node sends a heartbeat (it would turn stale otherwise).
// The rules and the receiver are the caller's (bench/run_alerts.sh): a threshold on
// probe.v with no `for` and no cooldown, and a webhook receiver for it.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/latency_histogram.hpp"
#include "bench/stream_clients.hpp"
#include "tools/common/flags.hpp"
#include "tools/common/http_client.hpp"

namespace {

using namespace metricsd::bench;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace tools = metricsd::tools;
using asio::ip::tcp;

struct Options {
  std::string url = "http://127.0.0.1:8080";
  std::string token;
  double rate = 100'000;  // background samples/s
  WriterPlan plan;
  uint32_t writers = 2, categories = 2;
  double probes_per_s = 5;
  uint32_t probe_nodes = 40;
  uint16_t listen = 18099;
  double duration_s = 30, warmup_s = 5;
  bool help = false;
};

void declare(tools::FlagSet& flags, Options& o) {
  flags.add("url", &o.url).arg("URL").help("metricsd base URL");
  flags.add("token", &o.token).arg("T").help("sent as Bearer");
  flags.add("rate", &o.rate).arg("R").help("background samples/s").range(0, 1e9);
  flags.add("nodes", &o.plan.nodes).arg("N").help("background nodes").range(1, 1'000'000);
  flags.add("categories", &o.categories).arg("K").help("background categories").range(1, 1000);
  flags.add("fields", &o.plan.fields).arg("F").help("fields per line").range(1, 1000);
  flags.add("samples-per-post", &o.plan.samples_per_post)
      .arg("S")
      .help("background samples per POST")
      .range(1, 10'000'000);
  flags.add("writers", &o.writers).arg("W").help("background writer connections").range(1, 100);
  flags.add("probes-per-s", &o.probes_per_s).arg("P").help("crossing samples/s").range(0.1, 1000);
  flags.add("probe-nodes", &o.probe_nodes)
      .arg("N")
      .help("probe nodes, probed in turn (each resolved half a cycle later)")
      .range(2, 100'000);
  flags.add("listen", &o.listen).arg("PORT").help("the webhook receiver's port on 127.0.0.1");
  flags.add("duration", &o.duration_s).arg("S").help("measured seconds").range(1, 86400);
  flags.add("warmup", &o.warmup_s).arg("S").help("seconds before them").range(0, 3600);
  flags.add("help", &o.help).help("this help");
}

using Clock = std::chrono::steady_clock;

struct Probes {
  std::mutex mu;
  std::vector<Clock::time_point> sent, acked;  // by probe node, of its outstanding probe
  std::vector<bool> outstanding;
  std::vector<bool> measured;  // by probe node: its outstanding probe was sent while measuring
  std::atomic<bool> measuring{false};
  std::atomic<uint64_t> probes{0}, probe_errors{0}, firings{0}, other{0};
  LatencyHistogram from_ack, from_send;

  void fired(uint32_t node, Clock::time_point now) {
    std::lock_guard lock(mu);
    if (node >= outstanding.size() || !outstanding[node]) {
      ++other;
      return;
    }
    outstanding[node] = false;
    if (!measured[node]) return;
    ++firings;
    auto ms = [](Clock::duration d) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    // A webhook faster than the POST's answer counts as 0 ms after the commit.
    from_ack.record(acked[node] >= sent[node] ? ms(now - acked[node]) : 0);
    from_send.record(ms(now - sent[node]));
  }
};

// One webhook request per connection (the daemon sends Connection: close).
asio::awaitable<void> serve(tcp::socket socket, Probes& probes) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  try {
    co_await http::async_read(stream, buf, req, asio::use_awaitable);
    auto now = Clock::now();
    auto body = nlohmann::json::parse(req.body(), nullptr, false);
    std::string node = body.is_object() ? body.value("node", "") : "";
    if (body.is_object() && body.value("event", "") == "firing" && node.rfind("p", 0) == 0)
      probes.fired(static_cast<uint32_t>(std::stoul(node.substr(1))), now);
    else
      ++probes.other;
    http::response<http::empty_body> res(http::status::no_content, 11);
    res.keep_alive(false);
    co_await http::async_write(stream, res, asio::use_awaitable);
  } catch (const std::exception&) {
  }
}

asio::awaitable<void> accept(tcp::acceptor& acceptor, Probes& probes) {
  for (;;) {
    tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
    asio::co_spawn(acceptor.get_executor(), serve(std::move(s), probes), asio::detached);
  }
}

// Probe node k at each tick; node k + N/2 gets v=0 (its alert resolves before its next probe).
void probe_loop(const Options& o, const tools::ServerUrl& url, Probes& probes,
                std::atomic<bool>& stop) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!o.token.empty()) headers.emplace_back("Authorization", "Bearer " + o.token);
  tools::HttpClient client(url, std::chrono::milliseconds(5000), headers);
  auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / o.probes_per_s));
  auto next = Clock::now();
  for (uint64_t tick = 0; !stop; ++tick) {
    std::this_thread::sleep_until(next);
    next += period;
    uint32_t k = static_cast<uint32_t>(tick % o.probe_nodes);
    uint32_t reset = (k + o.probe_nodes / 2) % o.probe_nodes;
    int64_t ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    // A node heard from by samples only turns stale after nodes.stale_after_s, and a
    // stale node's threshold alerts hold still: the probe nodes send heartbeats too.
    auto r =
        client.post("/api/v1/nodes/p" + std::to_string(k) + "/heartbeat", "{}", "application/json");
    if (r.status != 200) ++probes.probe_errors;
    r = client.post("/api/v1/write?precision=ms",
                    "probe,node=p" + std::to_string(reset) + " v=0 " + std::to_string(ts) + "\n",
                    "text/plain");
    if (r.status != 204) ++probes.probe_errors;
    {
      std::lock_guard lock(probes.mu);
      probes.sent[k] = Clock::now();
      probes.outstanding[k] = true;
      probes.measured[k] = probes.measuring;
    }
    r = client.post("/api/v1/write?precision=ms",
                    "probe,node=p" + std::to_string(k) + " v=100 " + std::to_string(ts + 1) + "\n",
                    "text/plain");
    std::lock_guard lock(probes.mu);
    probes.acked[k] = Clock::now();
    if (r.status != 204) {
      ++probes.probe_errors;
      probes.outstanding[k] = false;
    } else if (probes.measured[k]) {
      ++probes.probes;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  tools::ServerUrl url;
  try {
    tools::FlagSet flags;
    declare(flags, o);
    flags.parse(argc, argv);
    if (o.help) {
      Options defaults;
      tools::FlagSet shown;
      declare(shown, defaults);
      std::cout << "usage: metricsd-alert-load [flags]\n" << shown.help();
      return 0;
    }
    url = tools::parse_server_url(o.url);
  } catch (const std::exception& e) {
    std::cerr << "metricsd-alert-load: " << e.what() << "\n";
    return 2;
  }
  o.plan.categories = o.categories;
  o.plan.samples_per_post =
      std::max(o.plan.fields, o.plan.samples_per_post / o.plan.fields * o.plan.fields);
  o.plan.posts_per_s = o.rate / o.plan.samples_per_post / o.writers;

  asio::io_context ioc(2);
  Probes probes;
  probes.sent.resize(o.probe_nodes);
  probes.acked.resize(o.probe_nodes);
  probes.outstanding.assign(o.probe_nodes, false);
  probes.measured.assign(o.probe_nodes, false);
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), o.listen});
  asio::co_spawn(ioc, accept(acceptor, probes), asio::detached);
  StreamTarget t;
  tcp::resolver resolver(ioc);
  t.endpoint = *resolver.resolve(url.host, url.port).begin();
  t.host = url.host_header;
  t.token = o.token;
  t.categories = o.categories;
  StreamStats stats;
  if (o.rate > 0)
    for (uint32_t w = 0; w < o.writers; ++w)
      spawn_writer(ioc, t, o.plan, w, stats);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&] { ioc.run(); });
  std::atomic<bool> stop{false};
  std::thread prober([&] { probe_loop(o, url, probes, stop); });

  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup_s));
  auto t0 = Clock::now();
  stats.measuring = true;
  probes.measuring = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));
  probes.measuring = false;
  stats.measuring = false;
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  stop = true;
  prober.join();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the last webhooks
  stats.stop = true;
  ioc.stop();
  for (auto& th : threads)
    th.join();

  nlohmann::json out = {
      {"target_rate", o.rate},
      {"ingest_samples_per_s", static_cast<double>(stats.posted_samples.load()) / secs},
      {"post_errors", stats.post_errors.load()},
      {"probes", probes.probes.load()},
      {"probe_errors", probes.probe_errors.load()},
      {"firings_received", probes.firings.load()},  // of the probes sent while measuring
      {"other_webhooks", probes.other.load()},
      {"commit_to_webhook_ms",
       {{"p50", probes.from_ack.quantile(0.5)},
        {"p90", probes.from_ack.quantile(0.9)},
        {"p99", probes.from_ack.quantile(0.99)},
        {"max", probes.from_ack.quantile(1.0)}}},
      {"send_to_webhook_ms",
       {{"p50", probes.from_send.quantile(0.5)},
        {"p99", probes.from_send.quantile(0.99)},
        {"max", probes.from_send.quantile(1.0)}}}};
  std::cout << out.dump() << "\n";
  return probes.firings.load() > 0 ? 0 : 1;
}
