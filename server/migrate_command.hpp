// `metricsd migrate`: applies the schema migrations and exits. (`serve` is server/app.hpp.)
#pragma once

#include "core/settings.hpp"

namespace metricsd::server {

int migrate(const Settings& settings);

}  // namespace metricsd::server
