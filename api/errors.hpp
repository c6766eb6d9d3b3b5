// The api boundary for failures: whatever a handler or a service below it threw, as the
// API's error model. ApiError passes as it is; the storage layer's Unavailable and
// Overloaded become 503 + Retry-After, a series limit 400; anything else is an internal
// error (500, details only in the server log).
#pragma once

#include <exception>

#include "api/http_types.hpp"

namespace metricsd::api {

struct MappedError {
  ApiError error;
  bool internal = false;  // an unexpected failure: log it with `cause`, count it
  std::string cause;      // what was thrown, for the log
};

MappedError map_error(std::exception_ptr failure);

}  // namespace metricsd::api
