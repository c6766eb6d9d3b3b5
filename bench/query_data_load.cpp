// The data set's load (see query_data_load.hpp).
#include "bench/query_data_load.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/report_text.hpp"

namespace metricsd::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr int kMaxAttempts = 30;  // per load request, on 5xx, 429 or I/O failure

}  // namespace

int load_data_set(const QueryOptions& o, const DataSet& d) {
  const tools::ServerUrl url = tools::parse_server_url(o.load_url);
  const uint64_t total_lines = uint64_t{o.nodes} * d.rounds;
  const uint64_t per_body = d.spec.lines_per_body;
  const size_t bodies = static_cast<size_t>((total_lines + per_body - 1) / per_body);

  const auto build_start = Clock::now();
  std::vector<std::string> body(bodies);
  std::vector<uint32_t> body_samples(bodies);
  {
    std::vector<std::thread> builders;
    const unsigned n = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
    for (unsigned t = 0; t < n; ++t) {
      builders.emplace_back([&, t] {
        for (size_t i = t; i < bodies; i += n) {
          WorkloadSpec s = d.spec;
          const uint64_t first = i * per_body;
          s.lines_per_body = static_cast<uint32_t>(std::min(per_body, total_lines - first));
          body[i] = with_ms_stamps(build_payload(s, first));
          body_samples[i] = s.lines_per_body * s.fields;
        }
      });
    }
    for (auto& t : builders)
      t.join();
  }
  size_t bytes = 0;
  for (const auto& b : body)
    bytes += b.size();
  std::cerr << "built " << bodies << " bodies (" << fixed(static_cast<double>(bytes) / (1 << 20), 1)
            << " MiB, " << total_lines * o.fields << " samples) in "
            << fixed(std::chrono::duration<double>(Clock::now() - build_start).count(), 2)
            << " s; data [" << d.spec.start_ms << ", "
            << d.spec.start_ms + static_cast<int64_t>(d.rounds - 1) * d.spec.step_ms << "] ms\n";

  std::atomic<size_t> next{0};
  std::atomic<bool> abort{false};
  std::atomic<uint64_t> samples_ok{0}, requests_ok{0}, retries{0};
  std::mutex error_mu;
  std::string first_error;
  const auto note_error = [&](std::string text) {
    std::lock_guard lock(error_mu);
    if (first_error.empty()) first_error = text.substr(0, 500);
  };

  const auto started = Clock::now();
  std::vector<std::thread> senders;
  for (uint32_t c = 0; c < o.connections; ++c) {
    senders.emplace_back([&] {
      try {
        tools::HttpClient http = client_for(url, o);
        for (size_t i = next++; i < bodies && !abort; i = next++) {
          for (int attempt = 1;; ++attempt) {
            const tools::HttpReply a = http.post(url.target, body[i], "text/plain; charset=utf-8");
            if (a.status >= 200 && a.status < 300) {
              samples_ok += body_samples[i];
              ++requests_ok;
              break;
            }
            const std::string what =
                a.status == 0 ? a.error : "HTTP " + std::to_string(a.status) + ": " + a.body;
            const bool retriable = a.status == 0 || a.status == 429 || a.status >= 500;
            if (!retriable || attempt >= kMaxAttempts) {
              note_error(what);
              abort = true;
              break;
            }
            ++retries;
            int pause_ms = 200;
            if (int s = 0; !a.retry_after.empty() &&
                           std::from_chars(a.retry_after.data(),
                                           a.retry_after.data() + a.retry_after.size(), s)
                                   .ec == std::errc{})
              pause_ms = std::clamp(s * 1000, 100, 2000);
            std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
          }
        }
      } catch (const std::exception& e) {
        note_error(e.what());
        abort = true;
      }
    });
  }
  for (auto& t : senders)
    t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const double rate = static_cast<double>(samples_ok) / seconds;
  const bool complete = requests_ok == bodies;

  std::cout << "load -> " << o.load_url << ": " << samples_ok << " samples in " << requests_ok
            << "/" << bodies << " requests, " << fixed(seconds, 1) << " s (" << fixed(rate / 1e6, 2)
            << " M samples/s, " << o.connections << " conn), " << retries << " retries"
            << (complete ? "" : "; INCOMPLETE") << "\n";
  if (!first_error.empty()) std::cout << "first error: " << first_error << "\n";
  std::cout << json{{"mode", "load"},
                    {"url", o.load_url},
                    {"samples", samples_ok.load()},
                    {"requests", requests_ok.load()},
                    {"bodies", bodies},
                    {"seconds", std::round(seconds * 1000) / 1000},
                    {"samples_per_s", std::round(rate)},
                    {"retries", retries.load()},
                    {"complete", complete},
                    {"end_ms", d.to_ms},
                    {"first_error", first_error}}
                   .dump()
            << "\n";
  return complete ? 0 : 1;
}

}  // namespace metricsd::bench
