// The run marker; see run_marker.hpp.
#include "server/run_marker.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <stdexcept>

#include "core/time_parse.hpp"

namespace fs = std::filesystem;

namespace metricsd::server {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t mtime_ms(const fs::path& p) {
  std::error_code ec;
  auto t = fs::last_write_time(p, ec);
  if (ec) return 0;
  auto sys = std::chrono::file_clock::to_sys(t);
  return std::chrono::duration_cast<std::chrono::milliseconds>(sys.time_since_epoch()).count();
}

}  // namespace

RunMarker::RunMarker(const fs::path& data_dir)
    : marker_(data_dir / "metricsd.running"), record_(data_dir / "last-unclean-shutdown") {
  if (fs::exists(marker_)) {
    previous_unclean_ = true;
    last_unclean_ms_ = mtime_ms(marker_);
    std::string previous;
    std::getline(std::ifstream(marker_), previous);
    spdlog::warn(
        "the previous run ({}) did not shut down cleanly; it was last seen alive at {}; "
        "PostgreSQL recovers what it committed, and nothing acknowledged is lost",
        previous.empty() ? "unknown" : previous, format_rfc3339_ms(last_unclean_ms_));
    std::ofstream(record_) << last_unclean_ms_ << "\n";
  } else {
    std::ifstream(record_) >> last_unclean_ms_;
  }
  std::ofstream out(marker_, std::ios::trunc);
  out << fmt::format("pid {}, started {}\n", getpid(), format_rfc3339_ms(now_ms()));
  if (!out.flush())
    throw std::runtime_error("cannot write " + marker_.string() + " (is data_dir writable?)");
}

void RunMarker::touch() {
  std::error_code ec;
  fs::last_write_time(marker_, fs::file_time_type::clock::now(), ec);
}

void RunMarker::clean_exit() {
  std::error_code ec;
  fs::remove(marker_, ec);
}

}  // namespace metricsd::server
