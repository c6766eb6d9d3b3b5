// gzip inflation; see gzip.hpp.
#include "api/gzip.hpp"

#include <zlib.h>

namespace metricsd::api {

std::string gunzip(std::string_view in, size_t max_bytes, std::string& out, bool* too_large) {
  *too_large = false;
  out.clear();
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return "cannot initialise gzip decoder";
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string error;
  char chunk[64 * 1024];
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = sizeof chunk - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      *too_large = true;
      error = "inflated body is larger than http.max_body_bytes";
      break;
    }
    out.append(chunk, produced);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in != 0) error = "trailing data after the gzip stream";
      break;
    }
    // All input used and no stream end: inflate answers Z_BUF_ERROR (or Z_OK having
    // made no progress) when the body was cut short.
    if ((rc == Z_OK || rc == Z_BUF_ERROR) && zs.avail_in == 0 && produced == 0) {
      error = "truncated gzip body";
      break;
    }
    if (rc != Z_OK) {
      error = std::string("malformed gzip body: ") + (zs.msg ? zs.msg : "corrupt data");
      break;
    }
  }
  inflateEnd(&zs);
  return error;
}

}  // namespace metricsd::api
