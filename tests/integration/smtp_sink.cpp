// The test SMTP server; see smtp_sink.hpp. One io thread runs everything: an accept
// coroutine, and per connection a conversation coroutine and a watchdog coroutine that
// closes the connection when a read or write waits longer than kIdleTimeout.
#include "smtp_sink.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

namespace metricsd::test {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// No co_await in the condition of an if or while: GCC 12.2 miscompiles that in some
// coroutines (see notify/smtp_client.cpp), so results are named first.

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr size_t kMaxLineBytes = 64 * 1024;
constexpr size_t kMaxDataBytes = 16 * 1024 * 1024;

std::string to_upper(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// False on a character outside the alphabet, data after padding or a bad length.
bool decode_base64(std::string_view in, std::string& out) {
  out.clear();
  uint32_t bits = 0;
  int count = 0;
  bool padded = false;
  for (char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '+') v = 62;
    if (c == '/') v = 63;
    if (c == '=') {
      padded = true;
      continue;
    }
    if (v < 0 || padded) return false;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return in.size() % 4 == 0;
}

// "<a@b> SIZE=10" -> "a@b"; nullopt without the brackets.
std::optional<std::string> bracketed(std::string_view s) {
  const size_t lt = s.find_first_not_of(' ');
  if (lt == std::string_view::npos || s[lt] != '<') return std::nullopt;
  const size_t gt = s.find('>', lt);
  if (gt == std::string_view::npos) return std::nullopt;
  return std::string(s.substr(lt + 1, gt - lt - 1));
}

void report(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::fprintf(stderr, "smtp sink: %s\n", x.what());
  }
}

// What every connection shares. options and tls are constant after construction; mutex
// guards messages and connections (read by the test's thread).
struct Mailroom {
  explicit Mailroom(SmtpSinkOptions o) : options(std::move(o)) {}
  void deliver(ReceivedMail mail) {
    {
      std::lock_guard lock(mutex);
      messages.push_back(std::move(mail));
    }
    arrived.notify_all();
  }

  const SmtpSinkOptions options;
  ssl::context tls{ssl::context::tls_server};

  mutable std::mutex mutex;
  mutable std::condition_variable arrived;
  std::vector<ReceivedMail> messages;
  size_t connections = 0;
};

// One client connection; everything on it runs on the io thread. The coroutines hold a
// shared_ptr to it for as long as they run.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Mailroom& room)
      : room_(room),
        options_(room.options),
        stream_(std::move(socket), room.tls),
        watchdog_(stream_.get_executor()) {}

  asio::awaitable<void> serve() {
    auto self = shared_from_this();
    std::string line;
    if (options_.implicit_tls) {
      if (const bool ok = co_await handshake(); !ok) {
        close();
        co_return;
      }
    }
    if (options_.hang) {  // read (and ignore) whatever comes until the client or we close
      for (;;) {
        if (const bool ok = co_await read_line(line); !ok) break;
      }
      close();
      co_return;
    }
    bool going = co_await reply("220 " + options_.address + " ESMTP metricsd test sink");
    while (going) {
      if (const bool ok = co_await read_line(line); !ok) break;
      const size_t space = line.find(' ');
      const std::string verb = to_upper(line.substr(0, space));
      const std::string args = space == std::string::npos ? "" : line.substr(space + 1);
      if (verb == "EHLO" || verb == "HELO") {
        going = co_await on_hello(verb, args);
      } else if (verb == "STARTTLS") {
        going = co_await on_starttls();
      } else if (verb == "AUTH") {
        going = co_await on_auth(args);
      } else if (verb == "MAIL") {
        going = co_await on_mail(args);
      } else if (verb == "RCPT") {
        going = co_await on_rcpt(args);
      } else if (verb == "DATA") {
        going = co_await on_data();
      } else if (verb == "RSET" || verb == "NOOP") {
        if (verb == "RSET") reset_transaction();
        going = co_await reply("250 2.0.0 OK");
      } else if (verb == "QUIT") {
        co_await reply("221 2.0.0 Bye");
        going = false;
      } else {
        going = co_await reply("502 5.5.2 command not recognized");
      }
    }
    close();
  }

  // Closes the connection once its deadline passed (each read and write pushes it on).
  asio::awaitable<void> watch() {
    auto self = shared_from_this();
    while (!closed_) {
      watchdog_.expires_at(deadline_);
      co_await watchdog_.async_wait(kTuple);
      if (!closed_ && Clock::now() >= deadline_) close();
    }
  }

  void close() {
    closed_ = true;
    error_code ignored;
    stream_.lowest_layer().close(ignored);
    watchdog_.cancel();
  }

 private:
  asio::awaitable<bool> on_hello(const std::string& verb, const std::string& args) {
    greeted_ = true;
    reset_transaction();
    if (verb == "HELO") co_return co_await reply("250 " + options_.address);
    std::vector<std::string> lines = {options_.address + " greets " + args, "8BITMIME",
                                      "ENHANCEDSTATUSCODES"};
    if (!options_.cert_file.empty() && !options_.implicit_tls && !tls_)
      lines.emplace_back("STARTTLS");
    if (!options_.user.empty()) lines.push_back("AUTH " + options_.auth_mechanisms);
    std::string text;
    for (size_t i = 0; i < lines.size(); ++i)
      text += (i ? "\r\n250" : "250") + std::string(i + 1 < lines.size() ? "-" : " ") + lines[i];
    co_return co_await reply(text);
  }

  asio::awaitable<bool> on_starttls() {
    if (options_.cert_file.empty() || options_.implicit_tls || tls_)
      co_return co_await reply("502 5.5.1 STARTTLS not offered");
    if (const bool ok = co_await reply("220 2.0.0 Ready to start TLS"); !ok) co_return false;
    in_.clear();  // nothing sent in clear text before the handshake counts (RFC 3207)
    if (const bool ok = co_await handshake(); !ok) co_return false;
    greeted_ = false;
    auth_user_.clear();
    reset_transaction();
    co_return true;
  }

  asio::awaitable<bool> on_auth(const std::string& args) {
    if (options_.user.empty()) co_return co_await reply("502 5.5.1 AUTH not offered");
    if (!greeted_) co_return co_await reply("503 5.5.1 EHLO first");
    if (!auth_user_.empty()) co_return co_await reply("503 5.5.1 already authenticated");
    const size_t space = args.find(' ');
    const std::string mechanism = to_upper(args.substr(0, space));
    std::string initial = space == std::string::npos ? "" : args.substr(space + 1);
    if ((" " + options_.auth_mechanisms + " ").find(" " + mechanism + " ") == std::string::npos)
      co_return co_await reply("504 5.5.4 mechanism not supported");
    std::string user, password, decoded;
    if (mechanism == "PLAIN") {
      if (initial.empty()) {
        if (const bool ok = co_await reply("334 "); !ok) co_return false;
        if (const bool ok = co_await read_line(initial); !ok) co_return false;
      }
      // authzid NUL authcid NUL password
      const bool decoded_ok = decode_base64(initial, decoded);
      const size_t a = decoded.find('\0');
      const size_t b = a == std::string::npos ? a : decoded.find('\0', a + 1);
      if (!decoded_ok || b == std::string::npos)
        co_return co_await reply("501 5.5.2 malformed AUTH PLAIN response");
      user = decoded.substr(a + 1, b - a - 1);
      password = decoded.substr(b + 1);
    } else {  // LOGIN
      if (initial.empty()) {
        if (const bool ok = co_await reply("334 VXNlcm5hbWU6"); !ok)
          co_return false;  // "Username:"
        if (const bool ok = co_await read_line(initial); !ok) co_return false;
      }
      std::string second;
      if (const bool ok = co_await reply("334 UGFzc3dvcmQ6"); !ok) co_return false;  // "Password:"
      if (const bool ok = co_await read_line(second); !ok) co_return false;
      if (!decode_base64(initial, user) || !decode_base64(second, password))
        co_return co_await reply("501 5.5.2 malformed AUTH LOGIN response");
    }
    if (user != options_.user || password != options_.password)
      co_return co_await reply("535 5.7.8 Authentication credentials invalid");
    auth_user_ = user;
    co_return co_await reply("235 2.7.0 Authentication successful");
  }

  asio::awaitable<bool> on_mail(const std::string& args) {
    if (!greeted_) co_return co_await reply("503 5.5.1 EHLO first");
    if (options_.require_tls && !tls_)
      co_return co_await reply("530 5.7.0 Must issue a STARTTLS command first");
    if (!options_.user.empty() && auth_user_.empty())
      co_return co_await reply("530 5.7.0 Authentication required");
    if (from_) co_return co_await reply("503 5.5.1 sender already given");
    auto address = to_upper(args).starts_with("FROM:") ? bracketed(args.substr(5)) : std::nullopt;
    if (!address) co_return co_await reply("501 5.5.4 syntax: MAIL FROM:<address>");
    from_ = std::move(*address);
    co_return co_await reply("250 2.1.0 OK");
  }

  asio::awaitable<bool> on_rcpt(const std::string& args) {
    if (!from_) co_return co_await reply("503 5.5.1 MAIL first");
    auto address = to_upper(args).starts_with("TO:") ? bracketed(args.substr(3)) : std::nullopt;
    if (!address) co_return co_await reply("501 5.5.4 syntax: RCPT TO:<address>");
    if (options_.rcpt_reply != 0)
      co_return co_await reply(fmt::format("{} {}.1.1 recipient refused by the test sink",
                                           options_.rcpt_reply, options_.rcpt_reply / 100));
    to_.push_back(std::move(*address));
    co_return co_await reply("250 2.1.5 OK");
  }

  asio::awaitable<bool> on_data() {
    if (!from_ || to_.empty()) co_return co_await reply("503 5.5.1 RCPT first");
    if (const bool ok = co_await reply("354 End data with <CR><LF>.<CR><LF>"); !ok) co_return false;
    std::string data, line;
    bool too_big = false;  // then the rest is read and dropped, and refused at the end
    for (;;) {
      if (const bool ok = co_await read_line(line); !ok) co_return false;
      if (line == ".") break;
      if (!line.empty() && line.front() == '.') line.erase(0, 1);
      too_big = too_big || data.size() + line.size() > kMaxDataBytes;
      if (!too_big) data += line + "\r\n";
    }
    if (too_big) {
      reset_transaction();
      co_return co_await reply("552 5.3.4 message too big");
    }
    if (options_.data_reply != 0) {
      reset_transaction();
      co_return co_await reply(fmt::format("{} {}.6.0 message refused by the test sink",
                                           options_.data_reply, options_.data_reply / 100));
    }
    room_.deliver({*from_, to_, std::move(data), tls_, auth_user_});
    reset_transaction();
    co_return co_await reply(fmt::format("250 2.0.0 queued as {}", ++queued_));
  }

  void reset_transaction() {
    from_.reset();
    to_.clear();
  }

  asio::awaitable<bool> handshake() {
    deadline_ = Clock::now() + kIdleTimeout;
    auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, kTuple);
    tls_ = !ec;
    co_return !ec;
  }

  // One line without its CRLF (commands and DATA lines alike end in CRLF).
  asio::awaitable<bool> read_line(std::string& line) {
    deadline_ = Clock::now() + kIdleTimeout;
    auto buffer = asio::dynamic_buffer(in_, kMaxLineBytes);
    error_code ec;
    size_t n = 0;
    if (tls_)
      std::tie(ec, n) = co_await asio::async_read_until(stream_, buffer, "\r\n", kTuple);
    else
      std::tie(ec, n) =
          co_await asio::async_read_until(stream_.next_layer(), buffer, "\r\n", kTuple);
    if (ec) co_return false;
    line = in_.substr(0, n - 2);
    in_.erase(0, n);
    co_return true;
  }

  // `text`: the reply's lines joined by CRLF, without the last CRLF.
  asio::awaitable<bool> reply(std::string text) {
    deadline_ = Clock::now() + kIdleTimeout;
    text += "\r\n";
    error_code ec;
    if (tls_)
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(text), kTuple);
    else
      std::tie(ec, std::ignore) =
          co_await asio::async_write(stream_.next_layer(), asio::buffer(text), kTuple);
    co_return !ec;
  }

  Mailroom& room_;
  const SmtpSinkOptions& options_;
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer watchdog_;
  Clock::time_point deadline_ = Clock::now() + kIdleTimeout;
  std::string in_;  // read but not yet consumed
  bool tls_ = false;
  bool closed_ = false;
  bool greeted_ = false;
  std::string auth_user_;
  std::optional<std::string> from_;  // the transaction: MAIL ...
  std::vector<std::string> to_;      // ... and RCPTs
  int queued_ = 0;
};

}  // namespace

// open_ and stopping_ belong to the io thread; port_ and room_'s constant part are set
// before it starts.
class SmtpSink::State {
 public:
  explicit State(SmtpSinkOptions options) : room_(std::move(options)) {
    const auto& o = room_.options;
    if (!o.cert_file.empty()) {
      SSL_CTX_set_min_proto_version(room_.tls.native_handle(), TLS1_2_VERSION);
      room_.tls.use_certificate_chain_file(o.cert_file);
      room_.tls.use_private_key_file(o.key_file, ssl::context::pem);
    }
    const tcp::endpoint endpoint(asio::ip::make_address(o.address), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), report);
    thread_ = std::thread([this] { io_.run(); });
  }

  // Not io_.stop(): closing the listener and every socket ends every coroutine, after
  // which run() returns by itself.
  ~State() {
    asio::post(io_, [this] {
      stopping_ = true;
      error_code ignored;
      acceptor_.close(ignored);
      for (const auto& weak : open_)
        if (auto connection = weak.lock()) connection->close();
    });
    thread_.join();
  }

  int port() const { return port_; }

  std::vector<ReceivedMail> messages() const {
    std::lock_guard lock(room_.mutex);
    return room_.messages;
  }

  bool wait_for(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(room_.mutex);
    return room_.arrived.wait_for(lock, timeout, [&] { return room_.messages.size() >= n; });
  }

  size_t connections() const {
    std::lock_guard lock(room_.mutex);
    return room_.connections;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        std::fprintf(stderr, "smtp sink: accept: %s\n", ec.message().c_str());
        co_return;
      }
      {
        std::lock_guard lock(room_.mutex);
        ++room_.connections;
      }
      auto connection = std::make_shared<Connection>(std::move(socket), room_);
      std::erase_if(open_, [](const auto& weak) { return weak.expired(); });
      open_.push_back(connection);
      asio::co_spawn(io_, connection->serve(), report);
      asio::co_spawn(io_, connection->watch(), report);
    }
  }

  Mailroom room_;  // outlives io_, so connections destroyed with it can still reach it
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  int port_ = 0;
  bool stopping_ = false;
  std::vector<std::weak_ptr<Connection>> open_;
  std::thread thread_;
};

SmtpSink::SmtpSink(SmtpSinkOptions options) : state_(std::make_unique<State>(std::move(options))) {}

SmtpSink::~SmtpSink() = default;

int SmtpSink::port() const {
  return state_->port();
}

std::vector<ReceivedMail> SmtpSink::messages() const {
  return state_->messages();
}

bool SmtpSink::wait_for(size_t n, std::chrono::milliseconds timeout) const {
  return state_->wait_for(n, timeout);
}

size_t SmtpSink::connections() const {
  return state_->connections();
}

}  // namespace metricsd::test
