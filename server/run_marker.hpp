// RunMarker: tells a clean shutdown from an unclean one. While `metricsd serve` runs,
// <data_dir>/metricsd.running exists (pid and start time) and is touched every few
// seconds; a clean exit removes it. Finding it at start means the previous run ended
// without its shutdown (killed, crashed, power lost): its modification time says when it
// was last seen alive. The time of the last unclean shutdown is kept in
// <data_dir>/last-unclean-shutdown so /metrics shows it across later clean restarts.
// Used by the main thread only, with the data dir lock held.
#pragma once

#include <cstdint>
#include <filesystem>

namespace metricsd::server {

class RunMarker {
 public:
  // Reads what the previous run left (logging a warning for an unclean end), then marks
  // this run. Throws std::runtime_error when the marker cannot be written.
  explicit RunMarker(const std::filesystem::path& data_dir);

  // Records that the daemon is alive now (its mtime); cheap, call every few seconds.
  void touch();
  // Removes the marker: this run ended cleanly.
  void clean_exit();

  bool previous_unclean() const { return previous_unclean_; }
  // When the last unclean shutdown happened (last seen alive), unix ms; 0 if none known.
  int64_t last_unclean_ms() const { return last_unclean_ms_; }

 private:
  std::filesystem::path marker_, record_;
  bool previous_unclean_ = false;
  int64_t last_unclean_ms_ = 0;
};

}  // namespace metricsd::server
