// InfluxDB line protocol parser: measurement[,tag=value...] field=value[,field=value...]
// [timestamp], one point per line, following InfluxDB's reference grammar: escapes
// (\, \space in measurements; \, \= \space in tag keys, tag values and field keys;
// \" \\ in string field values), float/exponent, integer (i), unsigned (u) and boolean
// spellings, optional timestamp, CRLF, blank and '#' comment lines. No I/O, no
// allocation per point once the scratch point has grown (it is reused).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::api {

enum class Precision { kNanoseconds, kMicroseconds, kMilliseconds, kSeconds, kMinutes, kHours };

// "ns"/"n", "us"/"u", "ms", "s", "m", "h"; false when unknown.
bool parse_precision(std::string_view text, Precision& out);

struct LpTag {
  std::string key, value;
};

struct LpField {
  enum class Kind { kFloat, kInteger, kUnsigned, kBoolean, kString };
  std::string key;
  Kind kind = Kind::kFloat;
  double value = 0;  // not set for strings
};

// One parsed point; vectors keep their capacity across lines (n_* say what is valid).
struct LpPoint {
  std::string_view series_text;  // the measurement and tags as written (escapes kept)
  std::string measurement;
  std::vector<LpTag> tags;
  size_t n_tags = 0;
  std::vector<LpField> fields;
  size_t n_fields = 0;
  bool has_timestamp = false;
  int64_t timestamp = 0;  // in the request's precision
};

class LineProtocolReader {
 public:
  explicit LineProtocolReader(std::string_view body) : body_(body) {}

  // Parses the next point. Returns false at the end of the body. On a malformed line
  // sets *error (and skips the line), returning true; line() names it (1-based; the
  // first line of a point whose string field spans several).
  bool next(LpPoint& point, std::string* error);
  size_t line() const { return point_line_; }

 private:
  std::string_view body_;
  size_t pos_ = 0;
  size_t line_ = 0;        // lines consumed so far
  size_t point_line_ = 0;  // first line of the last point returned
};

// A timestamp in `precision` to unix milliseconds (floor); false on overflow.
bool timestamp_to_ms(int64_t ts, Precision precision, int64_t& out_ms);

}  // namespace metricsd::api
