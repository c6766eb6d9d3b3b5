// gzip request bodies (Content-Encoding: gzip), inflated with a size bound.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace metricsd::api {

// Inflates `in` into `out`. Returns "" on success, else why not; sets *too_large when the
// result would exceed max_bytes (out is then incomplete).
std::string gunzip(std::string_view in, size_t max_bytes, std::string& out, bool* too_large);

}  // namespace metricsd::api
