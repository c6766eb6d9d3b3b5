// Names the calling thread (Linux keeps 15 bytes), so `top -H`, `ps -L`, perf and gdb
// show which of the daemon's threads is busy.
#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace metricsd {

inline void name_this_thread(std::string_view name) {
  std::string n(name.substr(0, 15));
  pthread_setname_np(pthread_self(), n.c_str());
}

}  // namespace metricsd
