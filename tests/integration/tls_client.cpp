// The HTTPS test client; see tls_client.hpp.
#include "tls_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cstdlib>
#include <stdexcept>

namespace metricsd::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

HttpResult https_request(int port, const std::string& method, const std::string& target,
                         const TlsOptions& tls, const std::string& body, const std::string& token) {
  asio::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(tls.ca_file);
  ctx.set_verify_mode(ssl::verify_peer);
  if (tls.max_version) SSL_CTX_set_max_proto_version(ctx.native_handle(), tls.max_version);
  if (tls.max_version && tls.max_version < TLS1_2_VERSION)
    SSL_CTX_set_security_level(ctx.native_handle(), 0);  // let the client offer old versions
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(20));
  beast::get_lowest_layer(stream).connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
  stream.handshake(ssl::stream_base::client);
  if (tls.peer_serial) {
    X509* cert = SSL_get1_peer_certificate(stream.native_handle());
    if (cert) {
      BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
      char* hex = BN_bn2hex(bn);
      *tls.peer_serial = hex;
      OPENSSL_free(hex);
      BN_free(bn);
      X509_free(cert);
    }
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  HttpResult out;
  out.status = res.result_int();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = res.body();
  return out;
}

std::string wss_exchange(int port, const TlsOptions& tls, const std::string& token,
                         const std::string& message) {
  asio::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(tls.ca_file);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, ctx);
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(20));
  beast::get_lowest_layer(ws).connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
  ws.next_layer().handshake(ssl::stream_base::client);
  ws.handshake("127.0.0.1", "/ws/metrics?access_token=" + token);
  ws.text(true);
  ws.write(asio::buffer(message));
  beast::flat_buffer buf;
  ws.read(buf);
  std::string out = beast::buffers_to_string(buf.data());
  ws.close(beast::websocket::close_code::normal);
  return out;
}

void make_self_signed(const std::string& cert_file, const std::string& key_file,
                      const std::string& common_name) {
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj '/CN=" +
      common_name + "' -addext 'subjectAltName=IP:127.0.0.1' -keyout '" + key_file + "' -out '" +
      cert_file + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl req failed: " + cmd);
}

}  // namespace metricsd::test
