// GET /api/v1/config and POST /api/v1/config/update (admin): the daemon's settings as it
// runs them (database passwords masked), and changes to the few that may change at run
// time (LiveSettings). A change is audited ("config.update", with each setting's old and
// new value) before it applies; it holds until the daemon stops.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/http_types.hpp"
#include "core/live_settings.hpp"
#include "storage/database.hpp"

namespace metricsd::api {

class ConfigHandlers {
 public:
  ConfigHandlers(storage::Database& db, LiveSettings& live);

  boost::asio::awaitable<Response> get(Request& req);
  boost::asio::awaitable<Response> update(Request& req);

 private:
  storage::Database& db_;
  LiveSettings& live_;
};

// A PostgreSQL URL or key=value conninfo with its password replaced by "***".
std::string mask_password(const std::string& conninfo);

}  // namespace metricsd::api
