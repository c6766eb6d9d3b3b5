// The answers while the disk is below its watermark (core/disk_watermark): a sample write
// or heartbeat gets 507 Insufficient Storage with Retry-After before its body is read
// (the server binds it to the ingest routes, server/routes.cpp), and /readyz 503. Both
// name the disk: the path, its free bytes and the watermark.
#pragma once

#include <optional>

#include "api/http_types.hpp"
#include "core/disk_watermark.hpp"
#include "ingest/ingest_service.hpp"

namespace metricsd::api {

// Seconds a refused writer is asked to wait: space comes back by an operator's hand or a
// retention drop, not within a second, and the check runs every disk.check_interval_ms.
inline constexpr int kDiskFullRetryAfterS = 10;

// 507 insufficient_storage + Retry-After; details name the path and the figures.
ApiError disk_full(const DiskShortage& low);
// 503 unavailable for /readyz, with the same message and details.
ApiError disk_not_ready(const DiskShortage& low);

// Checks a write before its body is read: nullopt while the disk has room; else the 507,
// counted once in metricsd_ingest_rejected_requests_total{reason="disk_full"} (its
// samples are unknown: the body is never read).
std::optional<Response> refuse_write_on_full_disk(const DiskWatermark& disk,
                                                  ingest::IngestService& ingest);

}  // namespace metricsd::api
