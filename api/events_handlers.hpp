// GET /api/v1/events: node status transitions and other fleet events, newest first,
// filtered by node, type and time, paginated with an opaque cursor.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/http_types.hpp"
#include "storage/database.hpp"

namespace metricsd::api {

class EventsHandlers {
 public:
  explicit EventsHandlers(storage::Database& db) : db_(db) {}
  boost::asio::awaitable<Response> list(Request& req);

 private:
  storage::Database& db_;
};

}  // namespace metricsd::api
