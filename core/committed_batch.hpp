// What leaves a commit: the samples one transaction made durable (by series id), the node
// status changes the daemon records, and the events nodes report. Handed to every
// consumer of committed data through the CommitFanout. Plain types, no I/O.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace metricsd {

// Samples of one request, by series id (parallel arrays).
struct SampleRows {
  std::vector<int64_t> series_ids;
  std::vector<int64_t> ts_ms;
  std::vector<double> values;
  size_t size() const { return values.size(); }
};

// The samples of one committed transaction: the parts of every request it answered.
// Valid only during the call that hands it over; a consumer that keeps samples copies them.
struct CommittedBatch {
  std::span<const SampleRows* const> parts;
  size_t samples() const {
    size_t n = 0;
    for (const auto* p : parts)
      n += p->size();
    return n;
  }
};

// A node's status changed (a heartbeat brought it online, or the node monitor saw it go
// stale or offline), after the change was committed.
struct NodeStatusChange {
  std::string node;
  std::string from;  // the status before, or "new" for a node seen for the first time
  std::string to;    // online, stale or offline
  int64_t last_seen_ms = 0;
  std::string event_type;  // node_status, or node_registered for a new node
};

// An event a node reported in its heartbeat (a GPU XID error, say), after it was
// committed; also what the heartbeat decoder yields before that.
struct NodeEvent {
  std::string node;
  std::string type;  // valid_event_type, never one of the daemon's own (core/names.hpp)
  int64_t ts_ms = 0;
  std::string data_json;  // a JSON object's canonical text ("{}" when none was given)
};

}  // namespace metricsd
