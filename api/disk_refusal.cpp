// Answers while the disk is below its watermark; see disk_refusal.hpp.
#include "api/disk_refusal.hpp"

namespace metricsd::api {
namespace {

nlohmann::json details_of(const DiskShortage& low) {
  return nlohmann::json::array({{{"field", "disk"},
                                 {"path", low.path},
                                 {"free_bytes", low.free_bytes},
                                 {"min_free_bytes", low.min_free_bytes},
                                 {"resume_free_bytes", low.resume_free_bytes}}});
}

}  // namespace

ApiError disk_full(const DiskShortage& low) {
  return ApiError(507, "insufficient_storage", low.message() + "; nothing of this request stored",
                  details_of(low))
      .with_retry_after(kDiskFullRetryAfterS);
}

ApiError disk_not_ready(const DiskShortage& low) {
  return ApiError(503, "unavailable", low.message(), details_of(low))
      .with_retry_after(kDiskFullRetryAfterS);
}

std::optional<Response> refuse_write_on_full_disk(const DiskWatermark& disk,
                                                  ingest::IngestService& ingest) {
  auto low = disk.shortage();
  if (!low) return std::nullopt;
  ingest.count_rejected("disk_full", 0);
  return error_response(disk_full(*low));
}

}  // namespace metricsd::api
