// `metricsd backup DIR` and `metricsd restore DIR`: a consistent copy of the embedded
// PostgreSQL cluster taken with PostgreSQL's own pg_basebackup (WAL streamed alongside,
// checked with pg_verifybackup), while the daemon serves or with it stopped; and the
// way back: with the daemon stopped, the backup replaces <data_dir>/postgres, the
// cluster it replaces is kept aside (renamed, never deleted), and the restored cluster is
// started once so its recovery runs and is checked before the command says it is done.
// With database.url set both refuse: an external database is backed up with its own
// tools (README, Operations).
#pragma once

#include "core/cli.hpp"
#include "core/settings.hpp"

namespace metricsd::server {

// Exit codes: 0 done, 1 failed (logged), 2 refused (bad directory, external database,
// restore without --yes).
int backup_command(const Settings& settings, const CommandLine& cli);
int restore_command(const Settings& settings, const CommandLine& cli);

}  // namespace metricsd::server
