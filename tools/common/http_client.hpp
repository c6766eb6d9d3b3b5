// A blocking HTTP/1.1 client on one keep-alive connection, for the agent's and the
// simulator's sender threads. Every step (resolve+connect, write, read) has a deadline; any
// I/O failure closes the connection and the next request reconnects. Plain http:// only.
// Boost.Beast stays inside http_client.cpp so that including this header is cheap.
// One HttpClient belongs to one thread.
#pragma once

#include <chrono>
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
};
// Throws std::invalid_argument naming what is wrong.
ServerUrl parse_server_url(const std::string& url);

struct HttpReply {
  int status = 0;           // 0: no answer (see error)
  std::string body;         // at most 1 MiB is kept
  std::string retry_after;  // the Retry-After header, if any
  std::string error;        // the I/O failure when status is 0
};

class HttpClient {
 public:
  // `headers` are sent with every request ("Authorization: Bearer ...").
  HttpClient(ServerUrl url, std::chrono::milliseconds timeout,
             std::vector<std::pair<std::string, std::string>> headers);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Never throws for I/O failures or HTTP statuses; they come back in the reply.
  // `path` is appended to the URL's base path.
  HttpReply post(const std::string& path, const std::string& body, const std::string& content_type);
  HttpReply get(const std::string& path);

  // Deadline of each later step (the final flush shortens it).
  void set_timeout(std::chrono::milliseconds timeout);

 private:
  class State;
  std::unique_ptr<State> state_;
};

}  // namespace metricsd::tools
