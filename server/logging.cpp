// Log set-up; see logging.hpp.
#include "server/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <thread>

#include "core/thread_name.hpp"

namespace metricsd::server {
namespace {

// {"time":"2026-11-25T10:00:00.123Z","level":"info","msg":"..."}: the message is escaped.
class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch());
    std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char when[96];
    std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count() % 1000));
    auto level = spdlog::level::to_string_view(msg.level);
    nlohmann::json j = {{"time", when},
                        {"level", std::string(level.data(), level.size())},
                        {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// The queue and its writer thread; lives until exit (loggers hold it weakly).
std::shared_ptr<spdlog::details::thread_pool> g_pool;

}  // namespace

void setup_logging(const std::string& level, const std::string& format, size_t queue_messages) {
  g_pool = std::make_shared<spdlog::details::thread_pool>(queue_messages, 1,
                                                          [] { name_this_thread("md-log"); });
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  // overrun_oldest: a full queue drops its oldest message (counted) instead of waiting.
  auto logger = std::make_shared<spdlog::async_logger>(
      "metricsd", std::move(sink), g_pool, spdlog::async_overflow_policy::overrun_oldest);
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc));
  }
  logger->set_level(spdlog::level::from_str(level));
  // The stderr sink flushes after every message itself; no flush messages are queued.
  spdlog::set_default_logger(logger);
}

uint64_t log_messages_dropped() {
  return g_pool ? static_cast<uint64_t>(g_pool->overrun_counter()) : 0;
}

void flush_logging() {
  if (!g_pool) return;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (g_pool->queue_size() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // The writer may still hold the last message it took; it flushes it within microseconds
  // unless stderr itself is stuck, which no wait here could help.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

}  // namespace metricsd::server
