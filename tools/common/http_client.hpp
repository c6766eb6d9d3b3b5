// A blocking HTTP/1.1 client on one keep-alive connection, for the agent's and the
// simulator's sender threads and for the bench tools that send one request at a time and
// time each (metricsd-query-load). Every step (resolve+connect, write, read) has a
// deadline; any I/O failure closes the connection and the next request reconnects. Plain
// http:// only. Boost.Beast stays inside http_client.cpp so that including this header is
// cheap. One HttpClient belongs to one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace metricsd::tools {

// The parts of a server URL ("http://host:8080" or "http://host:8080/prefix").
struct ServerUrl {
  std::string host;         // host name or address, for resolving
  std::string port;         // "80" when the URL has none
  std::string host_header;  // host[:port]
  std::string base_path;    // "" or "/prefix" (no trailing slash)
  std::string target;       // path and query as written, at least "/" ("/write?db=bench")
};
// Throws std::invalid_argument naming what is wrong.
ServerUrl parse_server_url(const std::string& url);

// The same server with no base path: request paths are then whole targets (the bench
// tools, whose URLs name the endpoint itself).
ServerUrl origin_of(ServerUrl url);

// "Name: value" (as given to --header) -> {"Name", "value"}, both trimmed. Throws
// std::invalid_argument unless there is a non-empty name before a colon and no CR or LF.
std::pair<std::string, std::string> parse_header_line(const std::string& line);

struct HttpReply {
  int status = 0;           // 0: no answer (see error)
  std::string body;         // a longer answer than max_reply_bytes fails (status 0)
  std::string retry_after;  // the Retry-After header, if any
  std::string error;        // the I/O failure when status is 0
};

struct HttpClientOptions {
  std::chrono::milliseconds timeout{10000};  // of each step
  // Sent with every request ("Authorization: Bearer ...").
  std::vector<std::pair<std::string, std::string>> headers;
  std::string user_agent = "metricsd-tools";
  uint64_t max_reply_bytes = 1 << 20;
  // Resolve the host once, in the constructor (which throws std::runtime_error when it
  // cannot), and reconnect to those addresses; else it is resolved on every connect.
  bool resolve_once = false;
};

class HttpClient {
 public:
  HttpClient(ServerUrl url, HttpClientOptions options);
  HttpClient(ServerUrl url, std::chrono::milliseconds timeout,
             std::vector<std::pair<std::string, std::string>> headers);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Never throws for I/O failures or HTTP statuses; they come back in the reply.
  // `path` is appended to the URL's base path.
  HttpReply post(const std::string& path, const std::string& body, const std::string& content_type);
  HttpReply get(const std::string& path);
  // Any method ("GET", "POST", "DELETE", ...); a body, when given, is sent with its length.
  HttpReply request(const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& content_type = "");

  // Connections opened so far (1 + reconnects, once a request was sent).
  uint64_t connects() const;

  // Deadline of each later step (the final flush shortens it).
  void set_timeout(std::chrono::milliseconds timeout);

 private:
  class State;
  std::unique_ptr<State> state_;
};

}  // namespace metricsd::tools
