// The admin endpoints: POST/GET /api/v1/tokens, DELETE /api/v1/tokens/{id} and
// GET /api/v1/audit. A new token's secret is in the creation answer only; revocation
// calls `on_revoke` so this daemon's token cache forgets it at once.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>

#include "api/http_types.hpp"
#include "storage/database.hpp"

namespace metricsd::api {

class TokenHandlers {
 public:
  TokenHandlers(storage::Database& db, std::function<void(int64_t)> on_revoke);

  boost::asio::awaitable<Response> create(Request& req);
  boost::asio::awaitable<Response> list(Request& req);
  boost::asio::awaitable<Response> revoke(Request& req);
  boost::asio::awaitable<Response> audit(Request& req);

 private:
  storage::Database& db_;
  std::function<void(int64_t)> on_revoke_;
};

}  // namespace metricsd::api
