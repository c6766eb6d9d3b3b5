// The peers' ingest workload (see /work/shared/PEERS.md): `nodes` nodes × `fields` numeric
// fields; one line-protocol line (or `fields` JSON samples) per node and round; rounds are
// `step_ms` apart from `start_ms`. Global line L is node L % nodes at round L / nodes.
//
// Bodies are built once, before a run. A sender reuses a ring of them by rewriting only their
// timestamps, which have fixed width and fixed offsets; shifting a body by a multiple of
// `nodes` lines keeps every line's node, so a run never sends the same (node, round) twice
// while memory stays bounded. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace metricsd::bench {

enum class Format { line_protocol, json };

struct WorkloadSpec {
  Format format = Format::line_protocol;
  uint32_t nodes = 1000;
  uint32_t fields = 20;
  uint32_t lines_per_body = 250;  // samples per request / fields
  uint64_t seed = 1;
  int64_t start_ms = 0;     // unix ms of round 0
  int64_t step_ms = 1000;   // between rounds
  uint64_t max_rounds = 1;  // rounds at or past this wrap to round 0 (timestamps repeat)

  uint64_t samples_per_body() const { return uint64_t{lines_per_body} * fields; }
};

// One request body, as built for generation 0 of its ring slot.
struct Payload {
  std::string body;
  uint64_t first_line = 0;           // global line index of the first line at generation 0
  uint32_t stamps_per_line = 1;      // 1 for line protocol, `fields` for JSON
  std::vector<uint32_t> ts_offsets;  // start of each fixed-width timestamp, in line order
};

// Field i's name: a fixed list of 20 realistic node metrics, then `field_21`, `field_22`, ...
std::string field_name(uint32_t i);

// Builds the body holding global lines [first_line, first_line + spec.lines_per_body).
Payload build_payload(const WorkloadSpec& spec, uint64_t first_line);

// Rewrites p's timestamps as if it had been built at first_line + line_shift; line_shift must
// be a multiple of spec.nodes. Returns true if some round wrapped past spec.max_rounds.
bool restamp_payload(const WorkloadSpec& spec, Payload& p, uint64_t line_shift);

// Which lines each connection sends: connection c's ring slot k at generation g carries
// request number (g * bodies_per_connection + k) * connections + c, so connections interleave
// and never overlap. bodies_per_connection * connections * lines_per_body is a multiple of
// nodes (see ring_unit), which is what lets a slot be restamped instead of rebuilt.
struct RingPlan {
  uint32_t connections = 1;
  uint32_t bodies_per_connection = 1;
  uint32_t lines_per_body = 1;

  uint64_t first_line(uint32_t connection, uint32_t slot) const {
    return (uint64_t{slot} * connections + connection) * lines_per_body;
  }
  uint64_t line_shift(uint64_t generation) const {
    return generation * bodies_per_connection * connections * lines_per_body;
  }
};

// The smallest bodies_per_connection step that keeps the ring's line count a multiple of nodes.
uint32_t ring_unit(uint32_t nodes, uint32_t connections, uint32_t lines_per_body);

}  // namespace metricsd::bench
