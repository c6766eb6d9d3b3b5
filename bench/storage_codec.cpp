// metricsd-storage-codec: what the stored block format (docs/storage-format.md) makes of the
// random-walk fleet telemetry (telemetry_walk.hpp), before PostgreSQL adds its row and
// index overhead: bytes per sample of the sample blocks for several window lengths, of the
// 1-minute and 1-hour rollup blocks, and of the old layout (int8 + float8 arrays), plus
// encode and decode speed. Every block is decoded again and compared bit for bit.
// `bench/run_storage.sh` measures the same data at rest in PostgreSQL and VictoriaMetrics.
#include <bit>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "bench/telemetry_walk.hpp"
#include "core/block_format.hpp"
#include "tools/common/flags.hpp"

namespace {

using namespace metricsd;
using Clock = std::chrono::steady_clock;

struct Tally {
  uint64_t samples = 0, bytes = 0, blocks = 0;
  double encode_s = 0, decode_s = 0;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Encodes one series' samples window by window into `t`, then checks the round trip.
void add_sample_blocks(Tally& t, int64_t window_ms, const std::vector<int64_t>& ts,
                       const std::vector<double>& vals) {
  std::vector<int64_t> wt, back_t;
  std::vector<double> wv, back_v;
  for (size_t i = 0; i < ts.size();) {
    int64_t start = floor_to(ts[i], window_ms);
    wt.clear();
    wv.clear();
    for (; i < ts.size() && ts[i] < start + window_ms; ++i) {
      wt.push_back(ts[i]);
      wv.push_back(vals[i]);
    }
    auto t0 = Clock::now();
    std::string block = encode_samples(wt, wv);
    t.encode_s += seconds_since(t0);
    back_t.clear();
    back_v.clear();
    t0 = Clock::now();
    decode_samples(block, back_t, back_v);
    t.decode_s += seconds_since(t0);
    if (back_t != wt) throw std::runtime_error("times differ after a round trip");
    for (size_t k = 0; k < wv.size(); ++k)
      if (std::bit_cast<uint64_t>(back_v[k]) != std::bit_cast<uint64_t>(wv[k]))
        throw std::runtime_error("values differ after a round trip");
    t.samples += wt.size();
    t.bytes += block.size();
    ++t.blocks;
  }
}

// Rollups of `bucket_ms` kept in blocks of `block_ms`.
void add_rollup_blocks(Tally& t, int64_t bucket_ms, int64_t block_ms,
                       const std::vector<int64_t>& ts, const std::vector<double>& vals) {
  std::map<int64_t, std::vector<RollupBucket>> blocks;
  for (size_t i = 0; i < ts.size(); ++i) {
    auto& b = blocks[floor_to(ts[i], block_ms)];
    int64_t bucket = floor_to(ts[i], bucket_ms);
    if (b.empty() || b.back().bucket_ms != bucket) b.push_back(RollupBucket{bucket, {}});
    b.back().agg.add(ts[i], vals[i]);
  }
  std::vector<RollupBucket> back;
  for (const auto& [start, buckets] : blocks) {
    auto t0 = Clock::now();
    std::string block = encode_rollups(buckets);
    t.encode_s += seconds_since(t0);
    back.clear();
    t0 = Clock::now();
    decode_rollups(block, back);
    t.decode_s += seconds_since(t0);
    if (back.size() != buckets.size())
      throw std::runtime_error("rollups differ after a round trip");
    t.bytes += block.size();
    t.blocks += 1;
  }
  t.samples += ts.size();
}

// One line per sample, values in their shortest exact decimal form.
void write_lines(std::FILE* f, uint32_t node, const std::string& metric,
                 const std::vector<int64_t>& ts, const std::vector<double>& vals) {
  char num[64];
  for (size_t i = 0; i < ts.size(); ++i) {
    auto end = std::to_chars(num, num + sizeof num, vals[i]).ptr;
    std::fprintf(f, "fleet,node=node-%04u %s=%.*s %lld\n", node, metric.c_str(),
                 static_cast<int>(end - num), num, static_cast<long long>(ts[i]));
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::WalkSpec spec;
  bool help = false;
  tools::FlagSet flags;
  flags.add("nodes", &spec.nodes).arg("N").help("nodes").range(1, 100000);
  flags.add("metrics", &spec.metrics).arg("N").help("metrics per node (at most 20)").range(1, 20);
  flags
      .add("hours", std::function<void(const std::string&)>([&](const std::string& v) {
             spec.duration_ms = static_cast<int64_t>(std::stod(v) * 3'600'000);
           }))
      .arg("H")
      .help("hours of data (default 24)");
  flags.add("interval-ms", &spec.interval_ms).arg("MS").help("between samples").range(1, 3'600'000);
  flags.add("jitter-ms", &spec.jitter_ms)
      .arg("MS")
      .help("each time moves by up to ± this")
      .range(0, 60'000);
  flags.add("seed", &spec.seed).arg("N").help("seed of the walks");
  flags.add("start-ms", &spec.start_ms).arg("MS").help("unix ms of the first interval");
  std::string lines_path;
  flags.add("lines", &lines_path)
      .arg("PATH")
      .help("also write the data as line protocol (ms times) to PATH, for the peers");
  flags.add("help", &help).help("print this help and exit");
  try {
    flags.parse(argc, argv);
  } catch (const tools::FlagError& e) {
    std::cerr << "metricsd-storage-codec: " << e.what() << "\n";
    return 2;
  }
  if (help) {
    std::cout << "usage: metricsd-storage-codec [flags]\n" << flags.help();
    return 0;
  }
  const std::vector<std::pair<const char*, int64_t>> windows = {{"10m", 600'000},
                                                                {"1h", 3'600'000},
                                                                {"2h", 7'200'000},
                                                                {"6h", 21'600'000},
                                                                {"1d", 86'400'000}};
  std::vector<Tally> raw(windows.size());
  Tally minute_h, minute_d, hour_d;
  uint64_t samples = 0;
  std::FILE* lines = lines_path.empty() ? nullptr : std::fopen(lines_path.c_str(), "w");
  if (!lines_path.empty() && !lines) {
    std::perror(lines_path.c_str());
    return 1;
  }
  bench::generate_walks(spec, [&](uint32_t node, uint32_t metric, const std::vector<int64_t>& ts,
                                  const std::vector<double>& vals) {
    samples += ts.size();
    if (lines) write_lines(lines, node, bench::metric_names()[metric], ts, vals);
    for (size_t w = 0; w < windows.size(); ++w)
      add_sample_blocks(raw[w], windows[w].second, ts, vals);
    add_rollup_blocks(minute_h, kMinuteMs, kHourMs, ts, vals);
    add_rollup_blocks(minute_d, kMinuteMs, kDayMs, ts, vals);
    add_rollup_blocks(hour_d, kHourMs, kDayMs, ts, vals);
  });
  auto per = [&](const Tally& t) {
    return static_cast<double>(t.bytes) / static_cast<double>(samples);
  };
  std::printf("data: %u nodes x %u metrics, %.1f h at %lld ms (jitter %lld ms): %llu samples\n",
              spec.nodes, spec.metrics, static_cast<double>(spec.duration_ms) / 3.6e6,
              static_cast<long long>(spec.interval_ms), static_cast<long long>(spec.jitter_ms),
              static_cast<unsigned long long>(samples));
  std::printf("old layout, arrays only: %.2f B/sample (int8 + float8 with array headers)\n", 16.0);
  std::printf("%-22s %10s %12s %12s %14s %14s\n", "blocks", "B/sample", "blocks", "B/block",
              "encode M/s", "decode M/s");
  auto row = [&](const std::string& name, const Tally& t) {
    std::printf("%-22s %10.3f %12llu %12.1f %14.1f %14.1f\n", name.c_str(), per(t),
                static_cast<unsigned long long>(t.blocks),
                static_cast<double>(t.bytes) / static_cast<double>(t.blocks),
                static_cast<double>(t.samples) / t.encode_s / 1e6,
                static_cast<double>(t.samples) / t.decode_s / 1e6);
  };
  for (size_t w = 0; w < windows.size(); ++w)
    row(std::string("samples per ") + windows[w].first, raw[w]);
  row("1m rollups per 1h", minute_h);
  row("1m rollups per 1d", minute_d);
  row("1h rollups per 1d", hour_d);
  if (lines && std::fclose(lines) != 0) {
    std::perror(lines_path.c_str());
    return 1;
  }
  return 0;
}
