// Short descriptions of the XID codes fleet operators meet most (NVIDIA's "XID Errors"
// catalogue, in our words), for the gpu_xid events the agent reports.
#pragma once

#include <string>

namespace metricsd::tools {

// "" for a code without a description here.
std::string xid_description(unsigned long long code);

}  // namespace metricsd::tools
