// The streamed CSV export of /api/v1/query: `time,node,labels,value`, one row per
// non-empty bucket, series after series, each in time order. The body is produced piece by
// piece as the client reads it, so a 30-day export never sits in memory: each series is
// read in blocks of kCsvBlockBuckets whole buckets (one run() per block), and the rows of
// one block are written out before the next block is read.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "api/json_write.hpp"
#include "api/query_handlers.hpp"
#include "core/compaction.hpp"
#include "core/time_parse.hpp"

namespace metricsd::api {
namespace {

// Quoted (with doubled quotes) when it holds a comma, a quote or a line break.
void append_csv_field(std::string& out, std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// The end of the block starting at `lo`: kCsvBlockBuckets whole buckets after the start of
// lo's bucket, or `to`. Blocks so cut partition [from, to) and never split a bucket.
int64_t block_end(int64_t lo, int64_t to, int64_t step) {
  int64_t span = 0, end = 0;
  if (__builtin_mul_overflow(step, kCsvBlockBuckets, &span) ||
      __builtin_add_overflow(floor_to(lo, step), span, &end) || end >= to)
    return to;
  return end;
}

}  // namespace

// Where the export is. Owned by the answer's producer; used by one coroutine at a time.
struct QueryHandlers::CsvCursor {
  Selected series;
  Range range;
  bool header_written = false;
  size_t series_index = 0;                         // the series being written
  int64_t block_from = 0;                          // where the next block of that series starts
  std::string fields;                              // ",node,labels," of that series, CSV-quoted
  std::vector<std::pair<int64_t, double>> points;  // the block read last
  size_t next_point = 0;                           // the first of them not yet written

  void start_series() {
    block_from = range.from_ms;
    points.clear();
    next_point = 0;
    fields.clear();  // (assigning "," trips GCC 12's -Wrestrict false positive at -O3)
    fields += ',';
    append_csv_field(fields, series[series_index].second.node);
    fields += ',';
    append_csv_field(fields, labels_text(series[series_index].second.labels));
    fields += ',';
  }
};

boost::asio::awaitable<void> QueryHandlers::read_csv_block(CsvCursor& c) {
  int64_t hi = block_end(c.block_from, c.range.to_ms, c.range.step_ms);
  Selected one{c.series[c.series_index]};
  // An export's days would push the dashboards' out of the cache: read, do not keep.
  auto points =
      co_await run(one, Range{c.block_from, hi, c.range.step_ms, c.range.agg}, /*bulk=*/true);
  c.points = std::move(points.at(0));
  c.next_point = 0;
  c.block_from = hi;
}

boost::asio::awaitable<Response> QueryHandlers::csv_response(Selected series, const Range& range) {
  auto c = std::make_shared<CsvCursor>();
  c->series = std::move(series);
  c->range = range;
  if (!c->series.empty()) {
    c->start_series();
    co_await read_csv_block(*c);
  }
  Response res;
  res.content_type = "text/csv; charset=utf-8";
  res.producer = [this, c](std::string& out) { return next_csv_piece(c, out); };
  co_return res;
}

boost::asio::awaitable<bool> QueryHandlers::next_csv_piece(std::shared_ptr<CsvCursor> c,
                                                           std::string& out) {
  if (!c->header_written) {
    out += "time,node,labels,value\n";
    c->header_written = true;
  }
  while (out.size() < kStreamPieceBytes) {
    if (c->next_point < c->points.size()) {
      const auto& [t, v] = c->points[c->next_point++];
      out += format_rfc3339_ms(t);
      out += c->fields;
      fmt::format_to(std::back_inserter(out), "{}\n", v);
      continue;
    }
    if (c->series_index >= c->series.size()) co_return false;
    if (c->block_from >= c->range.to_ms) {  // this series is done
      if (++c->series_index == c->series.size()) co_return false;
      c->start_series();
    }
    co_await read_csv_block(*c);
  }
  co_return true;
}

}  // namespace metricsd::api
