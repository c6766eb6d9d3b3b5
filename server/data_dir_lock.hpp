// DataDirLock: an exclusive flock on <data_dir>/metricsd.lock held for the daemon's life,
// so a second metricsd on the same data dir refuses to start. The kernel drops the lock
// when the process dies, however it dies.
#pragma once

#include <filesystem>

namespace metricsd::server {

class DataDirLock {
 public:
  // Creates data_dir if needed. Throws std::runtime_error naming the holder's pid.
  explicit DataDirLock(const std::filesystem::path& data_dir);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace metricsd::server
