// metricsd-stream-load: the live-stream benchmark. N WebSocket subscribers on /ws/metrics,
// each on one category (metrics:cat<i % categories>), while writers POST line protocol
// at a set rate to /api/v1/write (samples stamped with their send time). Reports delivery
// latency from commit to receipt (per message, from its committed_ms: the oldest sample
// it carries) and from send to receipt (per sample, from its ts), messages/s and samples/s
// received, and what ingest achieved. See bench/README.md.
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "bench/stream_clients.hpp"

namespace {

using namespace metricsd::bench;
namespace asio = boost::asio;

struct Options {
  std::string url = "http://127.0.0.1:8080";
  uint32_t subscribers = 100, categories = 100, writers = 2, threads = 1;
  double rate = 100'000;  // samples/s, all writers together
  WriterPlan plan;
  double duration_s = 20, warmup_s = 3;
  std::string token;
  bool deflate = false;
};

const char* kHelp = R"(usage: metricsd-stream-load [flags]
  --url URL              metricsd base URL (http://127.0.0.1:8080)
  --subscribers N        WebSocket subscribers, subscriber i on metrics:cat<i % categories> (100)
  --categories K         categories written and subscribed to (100)
  --rate R               samples/s written, all writers together (100000)
  --samples-per-post S   samples per POST (1000)
  --writers W            writer connections (2)
  --nodes N, --fields F  nodes and fields per line: series = categories x nodes x fields (10, 10)
  --duration S           measured seconds (20); --warmup S before it (3)
  --threads T            client io threads (1)
  --token T              sent as Bearer (writers) and ?access_token= (subscribers)
  --deflate              subscribers offer permessage-deflate
)";

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(f + " needs a value");
      return argv[++i];
    };
    if (f == "--help") {
      std::cout << kHelp;
      return false;
    } else if (f == "--url") {
      o.url = value();
    } else if (f == "--subscribers") {
      o.subscribers = static_cast<uint32_t>(std::stoul(value()));
    } else if (f == "--categories") {
      o.categories = static_cast<uint32_t>(std::stoul(value()));
    } else if (f == "--rate") {
      o.rate = std::stod(value());
    } else if (f == "--samples-per-post") {
      o.plan.samples_per_post = static_cast<uint32_t>(std::stoul(value()));
    } else if (f == "--writers") {
      o.writers = static_cast<uint32_t>(std::stoul(value()));
    } else if (f == "--nodes") {
      o.plan.nodes = static_cast<uint32_t>(std::stoul(value()));
    } else if (f == "--fields") {
      o.plan.fields = static_cast<uint32_t>(std::stoul(value()));
    } else if (f == "--duration") {
      o.duration_s = std::stod(value());
    } else if (f == "--warmup") {
      o.warmup_s = std::stod(value());
    } else if (f == "--threads") {
      o.threads = static_cast<uint32_t>(std::stoul(value()));
    } else if (f == "--token") {
      o.token = value();
    } else if (f == "--deflate") {
      o.deflate = true;
    } else {
      throw std::invalid_argument("unknown flag " + f + " (see --help)");
    }
  }
  if (o.categories == 0 || o.writers == 0 || o.threads == 0 || o.rate <= 0 || o.plan.fields == 0 ||
      o.plan.nodes == 0 || o.plan.samples_per_post < o.plan.fields)
    throw std::invalid_argument(
        "categories, writers, threads, rate, nodes, fields must be > 0 "
        "and samples-per-post >= fields");
  o.plan.categories = o.categories;
  o.plan.samples_per_post = o.plan.samples_per_post / o.plan.fields * o.plan.fields;
  o.plan.posts_per_s = o.rate / o.plan.samples_per_post / o.writers;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    if (!parse(argc, argv, o)) return 0;
  } catch (const std::exception& e) {
    std::cerr << "metricsd-stream-load: " << e.what() << "\n";
    return 2;
  }
  auto url = boost::urls::parse_uri(o.url);
  if (!url) {
    std::cerr << "metricsd-stream-load: bad --url\n";
    return 2;
  }
  asio::io_context ioc(static_cast<int>(o.threads));
  StreamTarget t;
  asio::ip::tcp::resolver resolver(ioc);
  std::string port = url->port().empty() ? "80" : std::string(url->port());
  t.endpoint = *resolver.resolve(std::string(url->host()), port).begin();
  t.host = std::string(url->host()) + ":" + port;
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
