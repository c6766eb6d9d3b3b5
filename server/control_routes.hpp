// The control routes: tokens, audit and run-time configuration (admin), commands (operator; the
// node's agent reads and acknowledges its own).
#pragma once

#include "api/command_handlers.hpp"
#include "api/config_handlers.hpp"
#include "api/token_handlers.hpp"
#include "server/router.hpp"

namespace metricsd::server {

void register_control_routes(Router& r, api::TokenHandlers& tokens, api::CommandHandlers& commands,
                             api::ConfigHandlers& config);

}  // namespace metricsd::server
