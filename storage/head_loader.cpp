// Head rebuild; see head_loader.hpp.
#include "storage/head_loader.hpp"

#include <string>

namespace metricsd::storage {
namespace {

// A page of inbox rows at a time keeps memory bounded while loading.
constexpr const char* kInboxPage =
    "SELECT batch_id, series_ids, ts_ms, vals FROM inbox WHERE batch_id > $1 "
    "ORDER BY batch_id LIMIT 16";
// The newest chunk or sample block of each series (both indexed on (series_id, start_ms)).
constexpr const char* kChunkLatest = R"(
SELECT s.series_id, c.last_ts_ms, c.last FROM series s
CROSS JOIN LATERAL (
  (SELECT last_ts_ms, last FROM chunks WHERE series_id = s.series_id
   ORDER BY start_ms DESC, last_ts_ms DESC LIMIT 1)
  UNION ALL
  (SELECT last_ts_ms, last FROM sample_blocks WHERE series_id = s.series_id
   ORDER BY start_ms DESC, last_ts_ms DESC LIMIT 1)
  ORDER BY last_ts_ms DESC LIMIT 1) c)";

}  // namespace

size_t load_head(PgConnection& pg, Head& head) {
  head.clear();
  {
    auto r = pg.query(kChunkLatest, {}, true);
    for (int i = 0; i < r->rows(); ++i)
      head.note_latest(decode_int8(r->value(i, 0)),
                       {decode_int8(r->value(i, 1)), decode_float8(r->value(i, 2))});
  }
  size_t loaded = 0;
  int64_t after = 0;
  for (;;) {
    auto r = pg.query(kInboxPage, {std::to_string(after)}, true);
    if (r->rows() == 0) break;
    for (int i = 0; i < r->rows(); ++i) {
      std::vector<int64_t> series, ts;
      std::vector<double> values;
      after = decode_int8(r->value(i, 0));
      decode_int8_array(r->value(i, 1), series);
      decode_int8_array(r->value(i, 2), ts);
      decode_float8_array(r->value(i, 3), values);
      if (series.size() != ts.size() || ts.size() != values.size())
        throw std::runtime_error("inbox row arrays differ in length");
      head.append(series, ts, values);
      loaded += values.size();
    }
  }
  return loaded;
}

}  // namespace metricsd::storage
