// Stream benchmark subscribers and writers; see stream_clients.hpp.
#include "bench/stream_clients.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <chrono>
#include <iterator>
#include <string_view>

#include <fmt/format.h>

#include "core/clock.hpp"

namespace metricsd::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

int64_t number_after(std::string_view text, size_t pos) {
  int64_t v = 0;
  std::from_chars(text.data() + pos, text.data() + text.size(), v);
  return v;
}

// Times one message: per message from committed_ms, per sample from its ts (send time).
void record(std::string_view m, StreamStats& stats) {
  constexpr std::string_view kMetrics = R"({"type":"metrics","committed_ms":)";
  constexpr std::string_view kDropped = R"({"type":"dropped","count":)";
  int64_t now = wall_ms();
  if (m.starts_with(kDropped)) {
    stats.dropped_notices.fetch_add(1, std::memory_order_relaxed);
    stats.dropped_samples.fetch_add(static_cast<uint64_t>(number_after(m, kDropped.size())),
                                    std::memory_order_relaxed);
    return;
  }
  if (!m.starts_with(kMetrics)) return;
  stats.messages.fetch_add(1, std::memory_order_relaxed);
  stats.bytes.fetch_add(m.size(), std::memory_order_relaxed);
  stats.commit_to_receipt.record(now - number_after(m, kMetrics.size()));
  constexpr std::string_view kTs = R"("ts":)";
  uint64_t n = 0;
  for (size_t p = m.find(kTs); p != std::string_view::npos; p = m.find(kTs, p + kTs.size())) {
    stats.send_to_receipt.record(now - number_after(m, p + kTs.size()));
    ++n;
  }
  stats.samples.fetch_add(n, std::memory_order_relaxed);
}

asio::awaitable<void> subscriber(StreamTarget t, uint32_t index, StreamStats& stats) {
  websocket::stream<beast::tcp_stream> ws(co_await asio::this_coro::executor);
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(30));
  auto [cec] = co_await beast::get_lowest_layer(ws).async_connect(t.endpoint, kTuple);
  if (cec) {
    stats.errors.fetch_add(1);
    co_return;
  }
  beast::get_lowest_layer(ws).expires_never();
  if (t.deflate) {
    websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    ws.set_option(pmd);
  }
  std::string target = "/ws/metrics";
  if (!t.token.empty()) target += "?access_token=" + t.token;
  auto [hec] = co_await ws.async_handshake(t.host, target, kTuple);
  if (hec) {
    stats.errors.fetch_add(1);
    co_return;
  }
  stats.connected.fetch_add(1);
  std::string sub = R"({"op":"subscribe","id":1,"channels":["metrics:cat)" +
                    std::to_string(index % t.categories) + R"("]})";
  auto [wec, wn] = co_await ws.async_write(asio::buffer(sub), kTuple);
  if (wec) {
    stats.errors.fetch_add(1);
    co_return;
  }
  stats.subscribed.fetch_add(1);
  beast::flat_buffer buf;
  while (!stats.stop.load(std::memory_order_relaxed)) {
    auto [rec, n] = co_await ws.async_read(buf, kTuple);
    if (rec) {
      stats.closed.fetch_add(1);
      co_return;
    }
    if (stats.measuring.load(std::memory_order_relaxed)) {
      auto d = buf.cdata();
      record(std::string_view(static_cast<const char*>(d.data()), d.size()), stats);
    }
    buf.consume(buf.size());
  }
  beast::error_code ignored;
  beast::get_lowest_layer(ws).socket().close(ignored);
}

// Lines `cat<c>,node=n<k> f0=..,f1=.. <now ms>`: samples cat<c>.f<i> stamped with their
// send time, cycling through categories first so every category gets the same rate.
std::string body(const WriterPlan& p, uint64_t& line, int64_t ts) {
  std::string out;
  uint32_t lines = std::max<uint32_t>(1, p.samples_per_post / p.fields);
  out.reserve(lines * (24 + p.fields * 12));
  std::string stamp = fmt::format(" {}\n", ts);
  for (uint32_t l = 0; l < lines; ++l, ++line) {
    // fmt rather than `"cat" + std::to_string(..)`: GCC 12 at -O3 reads the latter as an
    // overlapping memcpy (a -Wrestrict false positive) and the Release build fails.
    auto it = fmt::format_to(std::back_inserter(out), "cat{},node=n{} ", line % p.categories,
                             (line / p.categories) % p.nodes);
    for (uint32_t f = 0; f < p.fields; ++f)
      it = fmt::format_to(it, "{}f{}={}.5", f ? "," : "", f, (line + f) % 1000);
    out += stamp;
  }
  return out;
}

asio::awaitable<void> writer(StreamTarget t, WriterPlan p, uint32_t index, StreamStats& stats) {
  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream stream(ex);
  bool connected = false;
  asio::steady_timer pace(ex);
  auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(1.0 / p.posts_per_s));
  auto next = std::chrono::steady_clock::now();
  uint64_t line = uint64_t{index} * 1'000'000'007;  // writers start at different lines
  beast::flat_buffer buf;
  while (!stats.stop.load(std::memory_order_relaxed)) {
    next += interval;
    pace.expires_at(next);
    co_await pace.async_wait(kTuple);
    if (!connected) {
      stream.expires_after(std::chrono::seconds(10));
      auto [ec] = co_await stream.async_connect(t.endpoint, kTuple);
      if (ec) {
        stats.post_errors.fetch_add(1);
        continue;
      }
      connected = true;
    }
    http::request<http::string_body> req{http::verb::post, "/api/v1/write?precision=ms", 11};
    req.set(http::field::host, t.host);
    req.set(http::field::content_type, "text/plain; charset=utf-8");
    if (!t.token.empty()) req.set(http::field::authorization, "Bearer " + t.token);
    req.body() = body(p, line, wall_ms());
    req.prepare_payload();
    auto started = std::chrono::steady_clock::now();
    stream.expires_after(std::chrono::seconds(30));
    auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
    http::response<http::string_body> res;
    beast::error_code rec = wec;
    if (!wec) std::tie(rec, std::ignore) = co_await http::async_read(stream, buf, res, kTuple);
    if (rec || res.result_int() / 100 != 2) {
      stats.post_errors.fetch_add(1);
      if (rec) {
        beast::error_code ignored;
        stream.socket().close(ignored);
        connected = false;
      }
      continue;
    }
    if (stats.measuring.load(std::memory_order_relaxed)) {
      stats.posts.fetch_add(1);
      stats.posted_samples.fetch_add(p.samples_per_post / p.fields * p.fields);
      stats.post_latency.record(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - started)
                                    .count());
    }
    if (std::chrono::steady_clock::now() > next + std::chrono::seconds(1))
      next = std::chrono::steady_clock::now();  // far behind: do not burst to catch up
  }
}

}  // namespace

void spawn_subscriber(asio::io_context& ioc, const StreamTarget& target, uint32_t index,
                      StreamStats& stats) {
  asio::co_spawn(ioc, subscriber(target, index, stats), asio::detached);
}

void spawn_writer(asio::io_context& ioc, const StreamTarget& target, const WriterPlan& plan,
                  uint32_t writer_index, StreamStats& stats) {
  asio::co_spawn(ioc, writer(target, plan, writer_index, stats), asio::detached);
}

}  // namespace metricsd::bench
