// The stream in a real browser: headless Chromium loads tests/browser/stream_page.html,
// which opens /ws/metrics with ?access_token= as a dashboard does, subscribes, and writes
// what it receives into the DOM; the test posts a sample meanwhile and reads the dumped
// DOM. Skipped only when Chromium is not installed (scripts/deps.sh installs it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "stream_support.hpp"

namespace metricsd::test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

std::string find_chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

// Holds every request it gets unanswered until release(): the page's "hold" image, which
// keeps `chromium --dump-dom` from dumping before the test is ready.
class HoldServer {
 public:
  HoldServer() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~HoldServer() {
    asio::post(ioc_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      held_.clear();
    });
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  void release() {
    asio::post(ioc_, [this] {
      released_ = true;
      for (auto& s : held_)
        answer(*s);
      held_.clear();
    });
  }

 private:
  void accept() {
    auto s = std::make_shared<tcp::socket>(ioc_);
    acceptor_.async_accept(*s, [this, s](boost::system::error_code ec) {
      if (ec) return;
      if (released_)
        answer(*s);
      else
        held_.push_back(s);
      accept();
    });
  }
  static void answer(tcp::socket& s) {
    static const std::string kAnswer =
        "HTTP/1.1 204 No Content\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    boost::system::error_code ignored;
    asio::write(s, asio::buffer(kAnswer), ignored);
    s.close(ignored);
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<tcp::socket>> held_;  // on the io thread only
  bool released_ = false;
  std::thread thread_;
};

class StreamBrowserTest : public StreamBase {
 protected:
  static void SetUpTestSuite() {
    if (!find_chromium().empty()) start({});
  }
  static void TearDownTestSuite() { stop(); }
};

TEST_F(StreamBrowserTest, PageShowsSnapshotAndLiveValues) {
  std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/deps.sh installs it)";
  ASSERT_EQ(post_metrics("browser-1", {{"browsert.snap", 1}}).status, 200);
  auto created =
      http_request(port(), "POST", "/api/v1/tokens", R"({"name":"browser","role":"viewer"})",
                   {{"Content-Type", "application/json"}});
  ASSERT_EQ(created.status, 201) << created.body;
  std::string token = nlohmann::json::parse(created.body)["token"];
  HoldServer hold;
  std::string url = std::string("file://") + METRICSD_SOURCE_DIR +
                    "/tests/browser/stream_page.html?port=" + std::to_string(port()) +
                    "&category=browsert&token=" + token + "&hold=" + std::to_string(hold.port());
  std::string cmd = chromium +
                    " --headless --no-sandbox --disable-gpu --timeout=60000 --dump-dom '" + url +
                    "' 2>/dev/null";
  auto dom = std::async(std::launch::async, [cmd] {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
      out.append(buf, n);
    pclose(p);
    return out;
  });
  // The page has subscribed once its snapshot went out.
  ASSERT_GE(wait_metric("metricsd_stream_snapshots_total", 1, 60s), 1)
      << "the page never subscribed";
  const double delivered = metric_value(port(), "metricsd_stream_samples_delivered_total", 0);
  ASSERT_EQ(post_metrics("browser-1", {{"browsert.live", 42.5}}).status, 200);
  // Sent to the page's WebSocket before the page is let go.
  EXPECT_GT(wait_metric("metricsd_stream_samples_delivered_total", delivered + 1, 10s), delivered);
  hold.release();
  ASSERT_EQ(dom.wait_for(60s), std::future_status::ready);
  std::string html = dom.get();
  EXPECT_NE(html.find("<div id=\"status\">subscribed</div>"), std::string::npos) << html;
  EXPECT_NE(html.find("snapshot browser-1 browsert.snap=1"), std::string::npos) << html;
  EXPECT_NE(html.find("live browser-1 browsert.live=42.5"), std::string::npos) << html;
  // The token travelled in the query string, which is never logged.
  EXPECT_EQ(daemon_->log().find(token), std::string::npos);
}

}  // namespace
}  // namespace metricsd::test
