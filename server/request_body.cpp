// Request bodies against the in-flight budget; see request_body.hpp.
#include "server/request_body.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <string>

namespace metricsd::server {
namespace {

// A burst of request bodies this large (all connections together) is given back to the
// system once it has passed. main.cpp keeps allocations up to 64 MiB in glibc's heap for
// reuse and trims only beyond 64 MiB of free space, and an io thread's arena is not trimmed
// by itself: 40 bodies of 15 MiB held their peak (620 MB) until a compaction pass trimmed
// (server/maintenance.cpp), which with no samples to compact is never.
constexpr int64_t kBodySpikeBytes = int64_t{64} << 20;

}  // namespace

api::Response over_body_budget(const SessionContext& ctx) {
  ctx.read_errors.with({"body_budget"}).inc();
  return api::error_response(api::ApiError::unavailable(
      "request bodies being received exceed limits.max_inflight_body_bytes (" +
          std::to_string(ctx.body_budget.limit()) + " bytes); retry later",
      1));
}

std::optional<api::Response> reserve_body(const RequestParser& parser,
                                          ByteBudget::Reservation& held,
                                          const SessionContext& ctx) {
  if (parser.is_done()) return std::nullopt;  // no body
  auto& budget = ctx.body_budget;
  int64_t declared = 0;
  if (auto length = parser.content_length()) {
    if (*length > static_cast<uint64_t>(budget.limit())) {  // could never fit: not a 503
      ctx.read_errors.with({"body_too_large"}).inc();
      return api::error_response(
          api::ApiError(413, std::string(api::error_code_for_status(413)),
                        "request body exceeds limits.max_inflight_body_bytes (" +
                            std::to_string(budget.limit()) + ")"));
    }
    declared = static_cast<int64_t>(*length);
  }
  held = budget.try_reserve(declared);
  if (!held) return over_body_budget(ctx);
  return std::nullopt;
}

bool grow_chunked_body(RequestParser& parser, const boost::beast::flat_buffer& buffer,
                       ByteBudget::Reservation& held, int64_t max_body_bytes) {
  std::string& body = parser.get().body();
  size_t need = body.size() + buffer.size() + kMaxReadBytes;
  if (body.capacity() >= need) return true;
  // Beast refuses a chunk that would take the body past http.max_body_bytes before it
  // stores a byte of it, so the string never needs more than that.
  size_t want = std::min(std::max(need, 2 * body.capacity()), static_cast<size_t>(max_body_bytes));
  if (want <= body.capacity()) return true;
  if (!held.resize(static_cast<int64_t>(want))) return false;
  // A fresh string of exactly `want` (reserve on a used one may round up to twice its size);
  // Beast's body reader holds the string object, which keeps its identity across the swap.
  std::string bigger;
  bigger.reserve(want);
  bigger.append(body);
  body.swap(bigger);
  return true;
}

void return_memory_after_spike(const SessionContext& ctx) {
  int64_t peak = ctx.body_budget.settled_after_spike(kBodySpikeBytes);
  if (peak == 0) return;
  // Tens of milliseconds after 256 MiB (the kernel taking the pages back): not on an io
  // thread.
  boost::asio::post(ctx.housekeeping, [peak] {
    auto t0 = std::chrono::steady_clock::now();
    malloc_trim(0);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    spdlog::info("request bodies: {} MiB held at the peak; freed memory given back ({} ms)",
                 peak >> 20, static_cast<long long>(ms));
  });
}

}  // namespace metricsd::server
