// Builds and restamps the workload's request bodies (see workload.hpp).
#include "bench/workload.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string_view>

namespace metricsd::bench {
namespace {

struct FieldShape {
  std::string_view name;
  double lo;
  double hi;
};

// Realistic ranges, so values look like a fleet's and compress like one.
constexpr FieldShape kFields[] = {
    {"cpu_util", 0, 100},     {"cpu_temp", 30, 95},        {"cpu_power", 10, 250},
    {"load_1m", 0, 64},       {"ram_used", 1, 512},        {"ram_util", 0, 100},
    {"swap_used", 0, 32},     {"disk_read_mbps", 0, 3000}, {"disk_write_mbps", 0, 3000},
    {"disk_util", 0, 100},    {"net_rx_mbps", 0, 10000},   {"net_tx_mbps", 0, 10000},
    {"gpu_util", 0, 100},     {"gpu_temp", 30, 90},        {"gpu_mem_used", 0, 80},
    {"gpu_mem_util", 0, 100}, {"gpu_power", 50, 700},      {"gpu_clock_mhz", 300, 2500},
    {"fan_speed", 0, 100},    {"tokens_per_s", 0, 2000},
};
constexpr uint32_t kNamedFields = sizeof(kFields) / sizeof(kFields[0]);

constexpr std::string_view kMeasurement = "node_metrics";
constexpr size_t kLpStampWidth = 19;    // ns since the epoch, 2001..2286
constexpr size_t kJsonStampWidth = 14;  // seconds with milliseconds: 1795600000.123

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double unit_interval(uint64_t h) {
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

FieldShape shape_of(uint32_t field) {
  return field < kNamedFields ? kFields[field] : FieldShape{"", 0, 100};
}

// Tenths of the value of `field` on `node` at `round`: a slow wave with a per-series phase and
// period plus a little noise, all derived from the seed.
int64_t value_tenths(const WorkloadSpec& spec, uint32_t node, uint32_t field, uint64_t round) {
  const FieldShape s = shape_of(field);
  const uint64_t series = mix(spec.seed ^ mix((uint64_t{node} << 32) | field));
  const double phase = unit_interval(series) * 6.283185307179586;
  const double period = 120.0 + static_cast<double>(series % 600);
  const double noise = unit_interval(mix(series ^ round)) - 0.5;
  double v = 0.5 + 0.4 * std::sin(6.283185307179586 * static_cast<double>(round) / period + phase) +
             0.1 * noise;
  v = s.lo + (s.hi - s.lo) * std::clamp(v, 0.0, 1.0);
  return std::llround(v * 10);
}

void append_tenths(std::string& out, int64_t tenths) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, tenths / 10);
  out.append(buf, end);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + tenths % 10));
}

void write_fixed(char* out, uint64_t v, size_t width) {
  for (size_t i = width; i-- > 0; v /= 10)
    out[i] = static_cast<char>('0' + v % 10);
}

// Writes round's timestamp into its fixed-width slot. Returns true if the round wrapped.
bool write_stamp(const WorkloadSpec& spec, char* slot, uint64_t round) {
  const bool wrapped = round >= spec.max_rounds;
  const uint64_t ms =
      static_cast<uint64_t>(spec.start_ms) + (round % spec.max_rounds) * spec.step_ms;
  if (spec.format == Format::line_protocol) {
    write_fixed(slot, ms * 1'000'000, kLpStampWidth);
  } else {
    write_fixed(slot, ms / 1000, 10);
    slot[10] = '.';
    write_fixed(slot + 11, ms % 1000, 3);
  }
  return wrapped;
}

std::string node_name(uint32_t node) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "node-%04u", node);
  return std::string(buf, static_cast<size_t>(n));
}

// Three in four nodes carry GPUs; the type is a tag, so it never adds series.
std::string_view node_type(uint32_t node) {
  return node % 4 == 3 ? "cpu" : "gpu";
}

void append_lp_line(const WorkloadSpec& spec, uint64_t line, Payload& p) {
  const uint32_t node = static_cast<uint32_t>(line % spec.nodes);
  const uint64_t round = line / spec.nodes;
  std::string& out = p.body;
  out.append(kMeasurement).append(",node=").append(node_name(node));
  out.append(",type=").append(node_type(node)).push_back(' ');
  for (uint32_t f = 0; f < spec.fields; ++f) {
    if (f > 0) out.push_back(',');
    out.append(field_name(f)).push_back('=');
    append_tenths(out, value_tenths(spec, node, f, round));
  }
  out.push_back(' ');
  p.ts_offsets.push_back(static_cast<uint32_t>(out.size()));
  out.append(kLpStampWidth, '0');
  out.push_back('\n');
}

void append_json_line(const WorkloadSpec& spec, uint64_t line, Payload& p) {
  const uint32_t node = static_cast<uint32_t>(line % spec.nodes);
  const uint64_t round = line / spec.nodes;
  const std::string name = node_name(node);
  std::string& out = p.body;
  for (uint32_t f = 0; f < spec.fields; ++f) {
    if (out.back() == '}') out.push_back(',');
    out.append(R"({"metric":")").append(kMeasurement).push_back('.');
    out.append(field_name(f)).append(R"(","node":")").append(name);
    out.append(R"(","labels":{"type":")").append(node_type(node)).append(R"("},"value":)");
    append_tenths(out, value_tenths(spec, node, f, round));
    out.append(R"(,"ts":)");
    p.ts_offsets.push_back(static_cast<uint32_t>(out.size()));
    out.append(kJsonStampWidth, '0');
    out.push_back('}');
  }
}

}  // namespace

std::string field_name(uint32_t i) {
  return i < kNamedFields ? std::string(kFields[i].name) : "field_" + std::to_string(i + 1);
}

Payload build_payload(const WorkloadSpec& spec, uint64_t first_line) {
  Payload p;
  p.first_line = first_line;
  p.stamps_per_line = spec.format == Format::line_protocol ? 1 : spec.fields;
  p.ts_offsets.reserve(size_t{spec.lines_per_body} * p.stamps_per_line);
  if (spec.format == Format::json) p.body = R"({"samples":[)";
  for (uint32_t i = 0; i < spec.lines_per_body; ++i) {
    if (spec.format == Format::line_protocol) {
      append_lp_line(spec, first_line + i, p);
    } else {
      append_json_line(spec, first_line + i, p);
    }
  }
  if (spec.format == Format::json) p.body += "]}";
  restamp_payload(spec, p, 0);
  return p;
}

bool restamp_payload(const WorkloadSpec& spec, Payload& p, uint64_t line_shift) {
  const size_t width = spec.format == Format::line_protocol ? kLpStampWidth : kJsonStampWidth;
  bool wrapped = false;
  char* body = p.body.data();
  // A line's stamps are all equal: format the first, copy it to the rest.
  for (size_t i = 0; i < p.ts_offsets.size(); i += p.stamps_per_line) {
    const uint64_t line = p.first_line + line_shift + i / p.stamps_per_line;
    char* first = body + p.ts_offsets[i];
    wrapped |= write_stamp(spec, first, line / spec.nodes);
    for (size_t j = 1; j < p.stamps_per_line; ++j) {
      std::memcpy(body + p.ts_offsets[i + j], first, width);
    }
  }
  return wrapped;
}

uint32_t ring_unit(uint32_t nodes, uint32_t connections, uint32_t lines_per_body) {
  const uint64_t lines_per_turn = uint64_t{connections} * lines_per_body;
  return static_cast<uint32_t>(nodes / std::gcd(uint64_t{nodes}, lines_per_turn));
}

}  // namespace metricsd::bench
