// TLS for the listener: the server context built from tls.cert_file / tls.key_file
// (TLS 1.2 and 1.3 only, forward-secret AEAD ciphers, no compression or renegotiation),
// replaced on SIGHUP. Connections keep the context they started with; a reload that
// fails keeps the old one and says why. Asio's SSL headers stay in the .cpp.
//
// Threads: current() from io threads (each new connection), reload() from the SIGHUP
// reload thread (md-tls-reload; it reads files, so never on an io thread). ctx_ is
// guarded by mu_; a connection holds its own shared_ptr, so a reload never pulls a
// context from under a handshake.
#pragma once

#include <memory>
#include <mutex>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace metricsd::server {

class TlsContext {
 public:
  // Loads both files; throws std::runtime_error naming the file and OpenSSL's reason.
  TlsContext(std::string cert_file, std::string key_file);
  ~TlsContext();

  std::shared_ptr<boost::asio::ssl::context> current() const;
  // Loads the files again; true when the new certificate is in use.
  bool reload();

 private:
  static std::shared_ptr<boost::asio::ssl::context> load(const std::string& cert,
                                                         const std::string& key);
  const std::string cert_file_, key_file_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
};

}  // namespace metricsd::server
