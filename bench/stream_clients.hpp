// The two sides of the stream benchmark (metricsd-stream-load): WebSocket subscribers on
// /ws/metrics that time every message and sample they receive, and paced line-protocol
// writers whose samples carry their send time. Asio coroutines on the caller's io_context.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>

#include "bench/latency_histogram.hpp"

namespace metricsd::bench {

struct StreamStats {
  std::atomic<bool> measuring{false};  // count only inside the measured window
  std::atomic<bool> stop{false};
  // Subscribers.
  std::atomic<uint64_t> connected{0}, subscribed{0}, messages{0}, samples{0}, bytes{0};
  std::atomic<uint64_t> dropped_notices{0}, dropped_samples{0}, closed{0}, errors{0};
  LatencyHistogram commit_to_receipt;  // per message: now - committed_ms (its oldest sample)
  LatencyHistogram send_to_receipt;    // per sample: now - ts (the writer's send time)
  // Writers.
  std::atomic<uint64_t> posts{0}, posted_samples{0}, post_errors{0};
  LatencyHistogram post_latency;
};

struct StreamTarget {
  boost::asio::ip::tcp::endpoint endpoint;
  std::string host;           // Host header
  std::string token;          // ?access_token= when set
  uint32_t categories = 100;  // subscriber i takes metrics:cat<i % categories>
  bool deflate = false;
};

void spawn_subscriber(boost::asio::io_context& ioc, const StreamTarget& target, uint32_t index,
                      StreamStats& stats);

struct WriterPlan {
  uint32_t categories = 100, nodes = 10, fields = 10;
  uint32_t samples_per_post = 1000;
  double posts_per_s = 50;  // of this writer
};

void spawn_writer(boost::asio::io_context& ioc, const StreamTarget& target, const WriterPlan& plan,
                  uint32_t writer_index, StreamStats& stats);

}  // namespace metricsd::bench
