// metricsd-stream-load: the live-stream benchmark. N WebSocket subscribers on /ws/metrics,
// each on one category (metrics:cat<i % categories>), while writers POST line protocol
// at a set rate to /api/v1/write (samples stamped with their send time). Reports delivery
// latency from commit to receipt (per message, from its committed_ms: the oldest sample
// it carries) and from send to receipt (per sample, from its ts), messages/s and samples/s
// received, and what ingest achieved. See bench/README.md.
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "bench/stream_clients.hpp"
#include "tools/common/flags.hpp"
#include "tools/common/http_client.hpp"

namespace {

using namespace metricsd::bench;
namespace asio = boost::asio;
namespace tools = metricsd::tools;

struct Options {
  std::string url = "http://127.0.0.1:8080";
  uint32_t subscribers = 100, categories = 100, writers = 2, threads = 1;
  double rate = 100'000;  // samples/s, all writers together
  WriterPlan plan;
  double duration_s = 20, warmup_s = 3;
  std::string token;
  bool deflate = false;
  bool help = false;
};

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The flags, bound to `o`; its values now are the defaults --help shows.
void declare(tools::FlagSet& flags, Options& o) {
  flags.add("url", &o.url).arg("URL").help("metricsd base URL");
  flags.add("subscribers", &o.subscribers)
      .arg("N")
      .help("WebSocket subscribers, subscriber i on metrics:cat<i % categories>")
      .max(1'000'000);
  flags.add("categories", &o.categories)
      .arg("K")
      .help("categories written and subscribed to")
      .range(1, 1'000'000);
  flags.add("rate", &o.rate)
      .arg("R")
      .help("samples/s written, all writers together")
      .above(0)
      .max(1e9);
  flags.add("samples-per-post", &o.plan.samples_per_post)
      .arg("S")
      .help("samples per POST (rounded down to whole lines of --fields)")
      .range(1, 10'000'000);
  flags.add("writers", &o.writers).arg("W").help("writer connections").range(1, 1000);
  flags.add("nodes", &o.plan.nodes)
      .arg("N")
      .help("nodes per category: series = categories x nodes x fields")
      .range(1, 1'000'000);
  flags.add("fields", &o.plan.fields).arg("F").help("fields per line").range(1, 1000);
  flags.add("duration", &o.duration_s).arg("S").help("measured seconds").range(0, 86400);
  flags.add("warmup", &o.warmup_s).arg("S").help("seconds before them").range(0, 3600);
  flags.add("threads", &o.threads).arg("T").help("client io threads").range(1, 1024);
  flags.add("token", &o.token)
      .arg("T")
      .help("sent as Bearer (writers) and ?access_token= (subscribers)");
  flags.add("deflate", &o.deflate).help("subscribers offer permessage-deflate");
  flags.add("help", &o.help).help("this help");
}

// Parses the flags into `o`; false after printing --help.
bool parse(int argc, char** argv, Options& o) {
  tools::FlagSet flags;
  declare(flags, o);
  flags.parse(argc, argv);
  if (o.help) {
    Options defaults;
    tools::FlagSet shown;
    declare(shown, defaults);
    std::cout << "usage: metricsd-stream-load [flags]\n" << shown.help();
    return false;
  }
  if (o.plan.samples_per_post < o.plan.fields)
    throw tools::FlagError("--samples-per-post is less than --fields");
  o.plan.categories = o.categories;
  o.plan.samples_per_post = o.plan.samples_per_post / o.plan.fields * o.plan.fields;
  o.plan.posts_per_s = o.rate / o.plan.samples_per_post / o.writers;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  tools::ServerUrl url;
  try {
    if (!parse(argc, argv, o)) return 0;
    url = tools::parse_server_url(o.url);
  } catch (const tools::FlagError& e) {
    std::cerr << "metricsd-stream-load: " << e.what() << "\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "metricsd-stream-load: --url: " << e.what() << "\n";
    return 2;
  }
  asio::io_context ioc(static_cast<int>(o.threads));
  StreamTarget t;
  asio::ip::tcp::resolver resolver(ioc);
  t.endpoint = *resolver.resolve(url.host, url.port).begin();
  t.host = url.host_header;
  t.token = o.token;
  t.categories = o.categories;
  t.deflate = o.deflate;
  StreamStats stats;
  for (uint32_t i = 0; i < o.subscribers; ++i)
    spawn_subscriber(ioc, t, i, stats);
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < o.threads; ++i)
    threads.emplace_back([&] { ioc.run(); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (stats.subscribed.load() + stats.errors.load() < o.subscribers &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::cerr << stats.subscribed.load() << " of " << o.subscribers << " subscribers ready\n";
  for (uint32_t w = 0; w < o.writers; ++w)
    spawn_writer(ioc, t, o.plan, w, stats);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup_s));
  double cpu0 = cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  stats.measuring = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));
  stats.measuring = false;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = (cpu_seconds() - cpu0) / secs * 100;
  stats.stop = true;
  ioc.stop();
  for (auto& th : threads)
    th.join();

  auto rate = [&](uint64_t n) { return static_cast<double>(n) / secs; };
  char line[2048];
  std::snprintf(
      line, sizeof line,
      "%u subscribers on %u categories, ingest %.0f samples/s (target %.0f, %llu errors, POST p50 "
      "%lld ms p99 %lld ms), %.1f s: received %.0f messages/s, %.0f samples/s, %.1f MiB/s; "
      "commit->receipt per message p50 %lld ms p99 %lld ms max %lld ms; send->receipt per "
      "sample p50 %lld ms p99 %lld ms; dropped notices %llu (%llu samples), closed %llu, "
      "subscriber errors %llu; client CPU %.0f %%",
      o.subscribers, o.categories, rate(stats.posted_samples), o.rate,
      static_cast<unsigned long long>(stats.post_errors.load()),
      static_cast<long long>(stats.post_latency.quantile(0.5)),
      static_cast<long long>(stats.post_latency.quantile(0.99)), secs, rate(stats.messages),
      rate(stats.samples), rate(stats.bytes) / (1 << 20),
      static_cast<long long>(stats.commit_to_receipt.quantile(0.5)),
      static_cast<long long>(stats.commit_to_receipt.quantile(0.99)),
      static_cast<long long>(stats.commit_to_receipt.quantile(1.0)),
      static_cast<long long>(stats.send_to_receipt.quantile(0.5)),
      static_cast<long long>(stats.send_to_receipt.quantile(0.99)),
      static_cast<unsigned long long>(stats.dropped_notices.load()),
      static_cast<unsigned long long>(stats.dropped_samples.load()),
      static_cast<unsigned long long>(stats.closed.load()),
      static_cast<unsigned long long>(stats.errors.load()), cpu);
  std::cout << line << "\n";
  std::snprintf(
      line, sizeof line,
      R"({"subscribers":%u,"categories":%u,"target_rate":%.0f,"ingest_samples_per_s":%.0f,)"
      R"("post_errors":%llu,"messages_per_s":%.0f,"samples_per_s":%.0f,"mib_per_s":%.2f,)"
      R"("commit_to_receipt_ms":{"p50":%lld,"p99":%lld,"max":%lld},)"
      R"("send_to_receipt_ms":{"p50":%lld,"p99":%lld},"dropped_samples":%llu,"closed":%llu,)"
      R"("client_cpu_pct":%.0f})",
      o.subscribers, o.categories, o.rate, rate(stats.posted_samples),
      static_cast<unsigned long long>(stats.post_errors.load()), rate(stats.messages),
      rate(stats.samples), rate(stats.bytes) / (1 << 20),
      static_cast<long long>(stats.commit_to_receipt.quantile(0.5)),
      static_cast<long long>(stats.commit_to_receipt.quantile(0.99)),
      static_cast<long long>(stats.commit_to_receipt.quantile(1.0)),
      static_cast<long long>(stats.send_to_receipt.quantile(0.5)),
      static_cast<long long>(stats.send_to_receipt.quantile(0.99)),
      static_cast<unsigned long long>(stats.dropped_samples.load()),
      static_cast<unsigned long long>(stats.closed.load()), cpu);
  std::cout << line << "\n";
  return stats.subscribed.load() == o.subscribers && stats.posts.load() > 0 ? 0 : 1;
}
