// Rebuilding the in-memory head at start: every sample still in the inbox, and the
// latest value of each series from its newest chunk.
#pragma once

#include "core/head.hpp"
#include "storage/pg_binary.hpp"

namespace metricsd::storage {

// Returns the number of inbox samples loaded.
size_t load_head(PgConnection& pg, Head& head);

}  // namespace metricsd::storage
