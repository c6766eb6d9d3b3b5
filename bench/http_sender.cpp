// A load-generating HTTP/1.1 connection (see http_sender.hpp).
#include "bench/http_sender.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <exception>

namespace metricsd::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr uint64_t kMaxAnswerBytes = 1 << 20;
constexpr size_t kMaxErrorText = 500;
// A request still in flight this long after the end is abandoned, so a run stays bounded.
constexpr auto kEndGrace = std::chrono::seconds(5);
// Pause before reconnecting after a failed connect, so a dead server is not spun on.
constexpr auto kReconnectPause = std::chrono::milliseconds(100);

struct Slot {
  Payload payload;
  std::string head;  // request line and headers; Content-Length never changes on restamp
};

std::string request_head(const SenderTarget& t, size_t body_bytes) {
  std::string h = "POST " + t.target + " HTTP/1.1\r\nHost: " + t.host + "\r\n";
  bool own_content_type = false;
  for (const std::string& line : t.headers) {
    std::string name = line.substr(0, line.find(':'));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    own_content_type |= name == "content-type";
    h += line + "\r\n";
  }
  if (!own_content_type) h += "Content-Type: " + t.content_type + "\r\n";
  h += "Content-Length: " + std::to_string(body_bytes) + "\r\n\r\n";
  return h;
}

class Sender {
 public:
  Sender(const SenderTarget& target, const WorkloadSpec& spec, const RingPlan& plan,
         const RunWindow& window, SenderStats& stats)
      : target_(target), spec_(spec), plan_(plan), window_(window), stats_(stats) {}

  asio::awaitable<void> run(std::vector<Slot>& ring) {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    beast::flat_buffer buffer;
    bool connected = false;
    bool ever_connected = false;
    uint64_t i = 0;  // requests sent: picks the ring slot and its generation
    while (Clock::now() < window_.end) {
      if (!connected) {
        stream.expires_at(deadline());
        auto [ec, ep] = co_await stream.async_connect(target_.endpoints, kAsTuple);
        if (ec) {
          fail(ec == beast::error::timeout ? "timeout" : "connection", "connect: " + ec.message());
          asio::steady_timer pause(stream.get_executor(), kReconnectPause);
          co_await pause.async_wait(kAsTuple);
          continue;
        }
        beast::error_code ignored;
        stream.socket().set_option(tcp::no_delay(true), ignored);
        buffer.clear();
        stats_.reconnects += ever_connected ? 1 : 0;
        connected = ever_connected = true;
      }

      Slot& slot = ring[i % ring.size()];
      const uint64_t generation = i++ / ring.size();
      if (generation > 0 && restamp_payload(spec_, slot.payload, plan_.line_shift(generation))) {
        ++stats_.timestamp_wraps;
      }

      const auto started = Clock::now();
      stream.expires_at(deadline());
      const std::array<asio::const_buffer, 2> request{asio::buffer(slot.head),
                                                      asio::buffer(slot.payload.body)};
      auto [wec, written] = co_await asio::async_write(stream, request, kAsTuple);
      if (wec) {
        fail_io(wec, "send");
        close(stream, connected);
        continue;
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxAnswerBytes);
      auto [rec, read] = co_await http::async_read(stream, buffer, parser, kAsTuple);
      if (rec) {
        fail_io(rec, "answer");
        close(stream, connected);
        continue;
      }
      const auto done = Clock::now();
      const auto& answer = parser.get();
      record(answer, done - started, written);
      if (!answer.keep_alive()) close(stream, connected);
    }
    if (connected) {
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
  }

 private:
  bool in_window(Clock::time_point t) const {
    return t >= window_.measure_from && t <= window_.end;
  }

  Clock::time_point deadline() const {
    return std::min(Clock::now() + target_.timeout, window_.end + kEndGrace);
  }

  void record(const http::response<http::string_body>& answer, Clock::duration latency,
              size_t bytes) {
    const unsigned status = answer.result_int();
    if (status >= 200 && status < 300) {
      if (!in_window(Clock::now())) return;
      ++stats_.requests_ok;
      stats_.samples_ok += spec_.samples_per_body();
      stats_.bytes_ok += bytes;
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
      stats_.latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
      return;
    }
    fail(std::to_string(status), "HTTP " + std::to_string(status) + ": " + answer.body());
  }

  void fail_io(const beast::error_code& ec, const char* step) {
    // Past the end the deadline is ours, not the server's: not an error.
    if (Clock::now() > window_.end) return;
    fail(ec == beast::error::timeout ? "timeout" : "connection",
         std::string(step) + ": " + ec.message());
  }

  void fail(const std::string& kind, std::string text) {
    const auto now = Clock::now();
    if (now < window_.measure_from) {
      ++stats_.warmup_errors;
    } else if (now <= window_.end) {
      ++stats_.errors[kind];
    } else {
      return;
    }
    if (stats_.first_error.empty()) {
      if (text.size() > kMaxErrorText) text.resize(kMaxErrorText);
      stats_.first_error = std::move(text);
      stats_.first_error_at = now;
    }
  }

  static void close(beast::tcp_stream& stream, bool& connected) {
    beast::error_code ignored;
    stream.socket().close(ignored);
    connected = false;
  }

  const SenderTarget& target_;
  const WorkloadSpec& spec_;
  const RingPlan& plan_;
  const RunWindow& window_;
  SenderStats& stats_;
};

}  // namespace

void run_sender(const SenderTarget& target, const WorkloadSpec& spec, const RingPlan& plan,
                std::vector<Payload> ring, const RunWindow& window, SenderStats& stats) {
  std::vector<Slot> slots;
  slots.reserve(ring.size());
  for (Payload& p : ring) {
    std::string head = request_head(target, p.body.size());
    slots.push_back(Slot{std::move(p), std::move(head)});
  }
  stats.latencies_us.reserve(1 << 16);

  asio::io_context io(1);
  Sender sender(target, spec, plan, window, stats);
  std::exception_ptr failure;
  asio::co_spawn(io, sender.run(slots), [&failure](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace metricsd::bench
