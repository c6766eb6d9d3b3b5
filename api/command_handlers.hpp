// Commands back to nodes: POST /api/v1/nodes/{node_id}/commands and
// POST /api/v1/fleet/commands (operator), GET /api/v1/nodes/{node_id}/commands (the node's
// agent, viewer and up) and POST /api/v1/nodes/{node_id}/commands/{id}/ack (the node's
// agent). A node receives its pending commands in its next heartbeat answer. Creation
// and acknowledgement are audited.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/http_types.hpp"
#include "storage/database.hpp"

namespace metricsd::api {

class CommandHandlers {
 public:
  explicit CommandHandlers(storage::Database& db) : db_(db) {}

  boost::asio::awaitable<Response> create(Request& req);
  boost::asio::awaitable<Response> create_fleet(Request& req);
  boost::asio::awaitable<Response> list(Request& req);
  boost::asio::awaitable<Response> ack(Request& req);

 private:
  storage::Database& db_;
};

}  // namespace metricsd::api
