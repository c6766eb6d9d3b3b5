// Text helpers for the bench tools' reports.
#pragma once

#include <cstdio>
#include <string>

namespace metricsd::bench {

// `v` with `decimals` digits after the point ("12.35").
inline std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace metricsd::bench
