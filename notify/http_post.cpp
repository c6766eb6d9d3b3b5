// The webhook POST (see http_post.hpp). The exchange is one coroutine on a private io_context.
// beast::tcp_stream's expiry, set once to the absolute deadline, bounds every socket step
// (connect, the TLS handshake's reads and writes, write, read); io_context::run_until bounds
// the whole as a backstop. Name resolution runs on a thread of its own (see resolve()).
#include "notify/http_post.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace metricsd::notify {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

constexpr size_t kMaxUrlChars = 2048;
constexpr size_t kMaxKeptBodyBytes = 1024;
// Name lookups running at once, across all callers. A lookup that outlives its caller's
// deadline keeps its thread until getaddrinfo gives up; this bounds the threads piled up
// behind a DNS server that does not answer. Past it a lookup fails at once.
constexpr int kMaxLookupsRunning = 16;
// How long past the deadline run_until waits for the coroutine to see its timeout.
constexpr auto kBackstopGrace = std::chrono::milliseconds(200);

std::atomic<int> g_lookups_running{0};

// The parts of a webhook URL that validate_webhook_url accepted.
struct WebhookTarget {
  bool tls = false;
  std::string host;  // a DNS name, or an IP address without brackets
  bool host_is_address = false;
  uint16_t port = 0;
  std::string authority;  // for the Host header: host[:port] as written
  std::string endpoint;   // for messages: host:port, the port always given
  std::string target;     // path and query, at least "/"
};

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool has_line_break_or_nul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// A header name as it may appear in a one-line message: control bytes shown as '?', cut.
std::string printable(std::string_view s) {
  std::string out(s.substr(0, 64));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  if (s.size() > 64) out += "...";
  return out;
}

// Messages never repeat the URL: webhook URLs often carry a secret token in path or query.
WebhookTarget parse_webhook_url(const std::string& url) {
  if (url.empty()) throw std::invalid_argument("webhook URL is empty");
  if (url.size() > kMaxUrlChars)
    throw std::invalid_argument(
        fmt::format("webhook URL is longer than {} characters", kMaxUrlChars));
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed)
    throw std::invalid_argument(url.find("://") == std::string::npos
                                    ? "webhook URL must start with http:// or https://"
                                    : "webhook URL is not a valid absolute URL");
  const boost::urls::url_view u = *parsed;
  WebhookTarget t;
  if (u.scheme_id() == boost::urls::scheme::https)
    t.tls = true;
  else if (u.scheme_id() != boost::urls::scheme::http)
    throw std::invalid_argument("webhook URL must start with http:// or https://");
  if (!u.has_authority() || u.encoded_host().empty())
    throw std::invalid_argument("webhook URL has no host");
  if (u.has_userinfo())
    throw std::invalid_argument(
        "webhook URL must not hold user info (user:password@); send credentials in a header");
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      t.host_is_address = true;
      t.host = u.host_address();
      break;
    case boost::urls::host_type::name:
      t.host = u.host_address();  // percent-decoded, hence the check below
      for (char c : t.host)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
          throw std::invalid_argument(
              "webhook URL host name may hold only letters, digits, '-', '.' and '_' "
              "(international names in punycode)");
      break;
    default:
      throw std::invalid_argument("webhook URL host must be a name or an IPv4 or IPv6 address");
  }
  t.port = t.tls ? 443 : 80;
  if (u.has_port()) {
    const std::string_view p = u.port();  // digits only, by the URL grammar
    unsigned long n = 0;
    for (char c : p)
      if (n <= 65535) n = n * 10 + static_cast<unsigned long>(c - '0');
    if (p.empty() || n < 1 || n > 65535)
      throw std::invalid_argument("webhook URL port must be 1-65535");
    t.port = static_cast<uint16_t>(n);
  }
  t.authority = u.encoded_host_and_port();
  t.endpoint = fmt::format("{}:{}", std::string_view(u.encoded_host()), t.port);
  t.target = u.encoded_target();
  if (t.target.empty() || t.target.front() != '/') t.target.insert(0, "/");
  return t;
}

// What a lookup thread hands back; the caller may have stopped waiting (see resolve()).
struct Lookup {
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;  // guarded by mu, as are ec and endpoints
  boost::system::error_code ec;
  std::vector<tcp::endpoint> endpoints;
};

// One POST, from resolve to the end of the reply (or the deadline). Lives on the caller's
// stack; the coroutine and the io_context are its own, so nothing here is shared.
class Exchange {
 public:
  Exchange(const PostRequest& request, WebhookTarget target)
      : request_(request),
        target_(std::move(target)),
        start_(Clock::now()),
        deadline_(start_ + request.timeout) {}

  PostOutcome run() {
    if (resolve()) {
      std::exception_ptr failure;
      bool finished = false;
      step_ = "connect " + target_.endpoint;
      asio::co_spawn(io_, target_.tls ? post_tls() : post_plain(), [&](std::exception_ptr e) {
        finished = true;
        failure = e;
      });
      io_.run_until(deadline_ + kBackstopGrace);
      if (failure) std::rethrow_exception(failure);  // not I/O: bad_alloc, a bug
      if (!finished) timed_out(step_);
    }
    outcome_.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_);
    return std::move(outcome_);
  }

 private:
  void timed_out(std::string_view step) {
    outcome_.error = fmt::format("{}: timed out after {} ms", step, request_.timeout.count());
  }

  void fail(std::string_view step, const boost::system::error_code& ec) {
    if (ec == beast::error::timeout || Clock::now() >= deadline_)
      timed_out(step);
    else
      outcome_.error = fmt::format("{}: {}", step, ec.message());
  }

  // getaddrinfo cannot be interrupted, and asio's resolver joins its lookup thread when its
  // io_context goes, so a name is looked up on a detached thread that the caller stops
  // waiting for at the deadline; a late answer is dropped with the Lookup.
  bool resolve() {
    const std::string step = "resolve " + target_.host;
    if (target_.host_is_address) {
      boost::system::error_code ec;
      const auto address = asio::ip::make_address(target_.host, ec);
      if (ec) {
        fail(step, ec);
        return false;
      }
      endpoints_.emplace_back(address, target_.port);
      return true;
    }
    if (g_lookups_running.fetch_add(1) >= kMaxLookupsRunning) {
      g_lookups_running.fetch_sub(1);
      outcome_.error = step + ": too many lookups still running (is DNS answering?)";
      return false;
    }
    auto lookup = std::make_shared<Lookup>();
    try {
      std::thread([lookup, host = target_.host, port = std::to_string(target_.port)] {
        asio::io_context io;
        tcp::resolver resolver(io);
        boost::system::error_code ec;
        auto results = resolver.resolve(host, port, ec);
        {
          std::lock_guard lock(lookup->mu);
          lookup->ec = ec;
          for (const auto& r : results)
            lookup->endpoints.push_back(r.endpoint());
          lookup->done = true;
        }
        lookup->done_cv.notify_all();
        g_lookups_running.fetch_sub(1);
      }).detach();
    } catch (const std::system_error& e) {
      g_lookups_running.fetch_sub(1);
      outcome_.error = fmt::format("{}: cannot start a lookup thread: {}", step, e.what());
      return false;
    }
    std::unique_lock lock(lookup->mu);
    if (!lookup->done_cv.wait_until(lock, deadline_, [&] { return lookup->done; })) {
      timed_out(step);
      return false;
    }
    if (lookup->ec) {
      fail(step, lookup->ec);
      return false;
    }
    if (lookup->endpoints.empty()) {
      outcome_.error = step + ": no address";
      return false;
    }
    endpoints_ = std::move(lookup->endpoints);
    return true;
  }

  asio::awaitable<bool> connect(beast::tcp_stream& stream) {
    step_ = "connect " + target_.endpoint;
    stream.expires_at(deadline_);  // stays set for every later step on this stream
    auto [ec, endpoint] = co_await stream.async_connect(endpoints_, kNoThrow);
    if (ec) {
      fail(step_, ec);
      co_return false;
    }
    boost::system::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    co_return true;
  }

  asio::awaitable<void> post_plain() {
    beast::tcp_stream stream(io_);
    if (co_await connect(stream)) co_await exchange(stream);
  }

  asio::awaitable<void> post_tls() {
    step_ = "tls setup";
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (request_.verify) {
      if (request_.ca_file.empty())
        ctx.set_default_verify_paths(ec);
      else
        ctx.load_verify_file(request_.ca_file, ec);
      if (ec) {
        fail(request_.ca_file.empty() ? "tls trust store" : "tls ca_file " + request_.ca_file, ec);
        co_return;
      }
      ctx.set_verify_mode(ssl::verify_peer);
    } else {
      ctx.set_verify_mode(ssl::verify_none);
    }
    beast::ssl_stream<beast::tcp_stream> stream(io_, ctx);
    SSL* ssl = stream.native_handle();
    // RFC 6066 allows no address as a server name, so an address gets no SNI (as in curl).
    bool ok = target_.host_is_address || SSL_set_tlsext_host_name(ssl, target_.host.c_str()) == 1;
    if (ok && request_.verify)
      ok = target_.host_is_address
               ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), target_.host.c_str()) == 1
               : SSL_set1_host(ssl, target_.host.c_str()) == 1;
    if (!ok) {
      outcome_.error = "tls setup: cannot set the server name " + target_.host;
      co_return;
    }
    if (!co_await connect(beast::get_lowest_layer(stream))) co_return;
    step_ = "tls handshake";
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kNoThrow);
    if (hec) {
      const long verified = SSL_get_verify_result(ssl);
      if (verified != X509_V_OK && hec != beast::error::timeout)
        outcome_.error = fmt::format("tls handshake: certificate verify failed: {}",
                                     X509_verify_cert_error_string(verified));
      else
        fail(step_, hec);
      co_return;
    }
    co_await exchange(stream);
  }

  http::request<http::string_body> make_request() const {
    http::request<http::string_body> req{http::verb::post, target_.target, 11};
    req.set(http::field::host, target_.authority);
    bool own_type = false, own_agent = false;
    for (const auto& [name, value] : request_.headers) {
      own_type = own_type || iequals(name, "content-type");
      own_agent = own_agent || iequals(name, "user-agent");
    }
    if (!own_agent && !request_.user_agent.empty())
      req.set(http::field::user_agent, request_.user_agent);
    if (!own_type && !request_.content_type.empty())
      req.set(http::field::content_type, request_.content_type);
    for (const auto& [name, value] : request_.headers)
      req.insert(name, value);
    req.keep_alive(false);
    req.body() = request_.body;
    req.prepare_payload();
    return req;
  }

  template <class Stream>
  asio::awaitable<void> exchange(Stream& stream) {
    step_ = "write";
    auto req = make_request();
    if (auto [ec, n] = co_await http::async_write(stream, req, kNoThrow); ec) {
      fail(step_, ec);
      co_return;
    }

    step_ = "read";
    beast::flat_buffer buffer;
    // buffer_body: the body goes through `chunk` and is cut by hand at max_reply_bytes, so a
    // long reply is neither refused nor held in memory (a string_body would reserve what
    // Content-Length announces).
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    if (auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kNoThrow); ec) {
      fail(step_, ec);
      co_return;
    }
    outcome_.status = static_cast<int>(parser.get().result_int());
    if (auto it = parser.get().find(http::field::retry_after); it != parser.get().end())
      outcome_.retry_after = it->value();

    // From here a failure leaves the status in place: the receiver has answered.
    const size_t keep = std::min(kMaxKeptBodyBytes, request_.max_reply_bytes);
    std::array<char, 4096> chunk;
    size_t consumed = 0;
    while (!parser.is_done() && consumed < request_.max_reply_bytes) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, kNoThrow);
      const size_t got = chunk.size() - parser.get().body().size;
      if (outcome_.body.size() < keep)
        outcome_.body.append(chunk.data(), std::min(got, keep - outcome_.body.size()));
      consumed += got;
      if (ec == http::error::need_buffer) continue;
      // A TLS peer that closes without close_notify ends a body that runs to the close.
      if (ec == ssl::error::stream_truncated && parser.need_eof()) parser.put_eof(ec);
      if (ec) {
        fail("read body", ec);
        co_return;
      }
    }
  }

  const PostRequest& request_;
  const WebhookTarget target_;
  const Clock::time_point start_, deadline_;
  asio::io_context io_{1};
  std::vector<tcp::endpoint> endpoints_;
  std::string step_;  // the step under way, for the backstop's message
  PostOutcome outcome_;
};

}  // namespace

PostOutcome http_post(const PostRequest& request) {
  WebhookTarget target = parse_webhook_url(request.url);
  for (const auto& [name, value] : request.headers)
    validate_webhook_header(name, value);
  if (has_line_break_or_nul(request.content_type) || has_line_break_or_nul(request.user_agent))
    throw std::invalid_argument("webhook Content-Type or User-Agent holds CR, LF or NUL");
  return Exchange(request, std::move(target)).run();
}

void validate_webhook_url(const std::string& url) {
  parse_webhook_url(url);
}

void validate_webhook_header(const std::string& name, const std::string& value) {
  if (name.empty()) throw std::invalid_argument("webhook header name is empty");
  for (char c : name)
    if (!is_tchar(c))
      throw std::invalid_argument(
          fmt::format("webhook header name '{}' is not a token (letters, digits and "
                      "!#$%&'*+-.^_`|~ only)",
                      printable(name)));
  for (std::string_view own : {"Host", "Content-Length", "Transfer-Encoding", "Connection"})
    if (iequals(name, own))
      throw std::invalid_argument(
          fmt::format("webhook header '{}' is set by the client and cannot be given", name));
  // The value is not repeated: it is often a credential.
  if (has_line_break_or_nul(value))
    throw std::invalid_argument(
        fmt::format("webhook header '{}': the value holds CR, LF or NUL", name));
}

std::string hmac_sha256_hex(const std::string& key, const std::string& message) {
  if (key.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw std::invalid_argument("HMAC key too long");
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac;
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(),
            &mac_len))
    throw std::runtime_error("HMAC-SHA256 failed");
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * mac_len);
  for (unsigned int i = 0; i < mac_len; ++i) {
    hex += kDigits[mac[i] >> 4];
    hex += kDigits[mac[i] & 0xf];
  }
  return hex;
}

}  // namespace metricsd::notify
