// Log set-up: spdlog to stderr, as text or one JSON object a line, UTC times.
//
// Logging never blocks the thread that logs: messages go into a bounded queue drained by
// one thread (md-log) that writes them to stderr. When stderr cannot keep up (a full pipe,
// a stalled journald), the oldest queued messages are dropped and counted, so an io thread
// never waits on a write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace metricsd::server {

// level: trace|debug|info|warn|error|off; format: text|json; queue_messages: how many
// messages may wait for stderr before the oldest are dropped.
void setup_logging(const std::string& level, const std::string& format,
                   size_t queue_messages = 8192);

// Messages dropped because the queue was full, since start.
uint64_t log_messages_dropped();

// Writes what is queued (bounded wait), for exit paths.
void flush_logging();

}  // namespace metricsd::server
