// An HTTPS client for the TLS tests: one request on a new TLS connection, with the TLS
// version range and the trusted certificate chosen by the test.
#pragma once

#include <string>

#include "harness.hpp"

namespace metricsd::test {

struct TlsOptions {
  std::string ca_file;       // trust this certificate (the test's self-signed one)
  int max_version = 0;       // e.g. TLS1_1_VERSION to offer only old protocols; 0: any
  std::string* peer_serial;  // when set, receives the server certificate's serial (hex)
};

// Throws on a handshake or transport failure.
HttpResult https_request(int port, const std::string& method, const std::string& target,
                         const TlsOptions& tls, const std::string& body = "",
                         const std::string& token = "");

// Opens wss://127.0.0.1:port/ws/metrics?access_token=..., sends one text message and
// returns the first message the server sends back. Throws on failure.
std::string wss_exchange(int port, const TlsOptions& tls, const std::string& token,
                         const std::string& message);

// Writes a self-signed certificate and key for 127.0.0.1 with the `openssl` command.
void make_self_signed(const std::string& cert_file, const std::string& key_file,
                      const std::string& common_name);

}  // namespace metricsd::test
