// XID descriptions (see xid_codes.hpp).
#include "tools/agent/xid_codes.hpp"

#include <utility>

namespace metricsd::tools {

std::string xid_description(unsigned long long code) {
  static constexpr std::pair<unsigned, const char*> kCodes[] = {
      {13, "graphics engine exception (often an application fault)"},
      {31, "GPU memory page fault (often an application fault)"},
      {32, "invalid or corrupted push buffer stream"},
      {38, "driver firmware error"},
      {43, "GPU stopped processing"},
      {45, "preemptive cleanup after an earlier error"},
      {48, "double-bit ECC error"},
      {61, "internal micro-controller breakpoint or warning"},
      {62, "internal micro-controller halt"},
      {63, "ECC page retirement or row remapping recorded"},
      {64, "ECC page retirement or row remapping could not be recorded"},
      {68, "video decoder exception"},
      {69, "graphics engine class error"},
      {74, "NVLink error"},
      {79, "GPU has fallen off the bus"},
      {92, "high single-bit ECC error rate"},
      {94, "contained ECC error"},
      {95, "uncontained ECC error"},
      {109, "context switch timeout"},
      {119, "GSP RPC timeout"},
      {120, "GSP error"},
      {121, "C2C link corrected error"},
      {140, "unrecovered ECC error"},
      {999, "unknown XID (the driver could not decode it)"},
  };
  for (const auto& [c, text] : kCodes)
    if (c == code) return text;
  return "";
}

}  // namespace metricsd::tools
