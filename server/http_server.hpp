// HttpServer: the listener, the registry of open connections (weak references), the
// connection limit, and the drain on shutdown. Beast stays in the .cpp.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "api/authorizer.hpp"
#include "core/prom.hpp"
#include "core/settings.hpp"
#include "server/cors.hpp"
#include "server/router.hpp"
#include "server/stream_context.hpp"
#include "server/tls_context.hpp"

namespace metricsd::server {

class AddressFilter;

class HttpServer {
 public:
  // `stream` (may be null: no /ws/metrics) must outlive the server.
  HttpServer(boost::asio::io_context& ioc, const Settings& settings, const Router& router,
             api::Authorizer& auth, const CorsPolicy& cors, prom::Registry& metrics,
             const StreamContext* stream = nullptr);
  ~HttpServer();

  // Serve HTTPS/WSS only, with the context's current certificate for each new
  // connection. Call before start(); `tls` must outlive the server.
  void set_tls(const TlsContext* tls);
  bool tls() const;
  // Apply the network.* address lists: deny/allow at accept, the per-level lists before
  // authorization. Call before start(); `filter` must outlive the server.
  void set_address_filter(AddressFilter* filter);

  // Binds settings.listen; throws std::runtime_error saying why it cannot.
  void listen();
  std::string local_address() const;  // "127.0.0.1:8080", the actual port
  void start();                       // accepts until begin_shutdown()
  // Stops accepting, closes idle connections; busy ones close after their answer.
  void begin_shutdown();
  size_t active_connections() const;
  void close_all();  // cuts whatever is still open

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace metricsd::server
