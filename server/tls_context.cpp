// The TLS server context; see tls_context.hpp.
#include "server/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ssl/context.hpp>
#include <stdexcept>

namespace metricsd::server {
namespace ssl = boost::asio::ssl;

namespace {

// Forward-secret AEAD suites for TLS 1.2; TLS 1.3 suites are OpenSSL's (all AEAD).
constexpr const char* kCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string reason(const boost::system::error_code& ec) {
  std::string r = ec.message();
  if (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    r += std::string(" (") + buf + ")";
  }
  ERR_clear_error();
  return r;
}

}  // namespace

TlsContext::TlsContext(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {
  ctx_ = load(cert_file_, key_file_);
}

TlsContext::~TlsContext() = default;

std::shared_ptr<ssl::context> TlsContext::load(const std::string& cert, const std::string& key) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::no_compression | ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(native, kCiphers) != 1)
    throw std::runtime_error("tls: no usable cipher suites in this OpenSSL");
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert, ec);
  if (ec) throw std::runtime_error("tls.cert_file " + cert + ": " + reason(ec));
  ctx->use_private_key_file(key, ssl::context::pem, ec);
  if (ec) throw std::runtime_error("tls.key_file " + key + ": " + reason(ec));
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    throw std::runtime_error("tls.key_file " + key + ": key mismatch with tls.cert_file " + cert);
  }
  return ctx;
}

std::shared_ptr<ssl::context> TlsContext::current() const {
  std::lock_guard lock(mu_);
  return ctx_;
}

bool TlsContext::reload() {
  try {
    auto fresh = load(cert_file_, key_file_);
    std::lock_guard lock(mu_);
    ctx_ = std::move(fresh);
    spdlog::info("tls: certificate reloaded from {}", cert_file_);
    return true;
  } catch (const std::exception& e) {
    spdlog::error("tls: reload failed, keeping the previous certificate: {}", e.what());
    return false;
  }
}

}  // namespace metricsd::server
