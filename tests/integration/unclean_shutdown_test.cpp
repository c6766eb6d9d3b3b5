// The run marker: a daemon killed with SIGKILL is reported at its next start (a warning and
// metricsd_previous_shutdown_unclean 1, with when it was last seen alive); a clean SIGTERM
// is not, and the time of the last unclean end stays visible across clean restarts.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>

#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(UncleanShutdown, KillIsReportedAtTheNextStartAndACleanStopIsNot) {
  TempDir dir;
  const double started = unix_now();
  {
    Daemon d(dir.path());
    ASSERT_TRUE(d.wait_ready()) << d.log();
    EXPECT_EQ(metric_value(d.port(), "metricsd_previous_shutdown_unclean", -1), 0);
    EXPECT_EQ(metric_value(d.port(), "metricsd_last_unclean_shutdown_timestamp_seconds", -1), 0);
    d.signal(SIGKILL);
    ASSERT_TRUE(d.wait_exit(30s));
  }
  const double killed = unix_now();
  double last_alive = 0;
  {
    Daemon d(dir.path());
    ASSERT_TRUE(d.wait_ready()) << d.log();
    EXPECT_NE(d.log().find("did not shut down cleanly"), std::string::npos) << d.log();
    EXPECT_EQ(metric_value(d.port(), "metricsd_previous_shutdown_unclean", -1), 1);
    last_alive = metric_value(d.port(), "metricsd_last_unclean_shutdown_timestamp_seconds", -1);
    EXPECT_GE(last_alive, started - 1);
    EXPECT_LE(last_alive, killed + 1);
    d.signal(SIGTERM);
    ASSERT_EQ(d.wait_exit(60s), 0) << d.log();
  }
  {
    Daemon d(dir.path());
    ASSERT_TRUE(d.wait_ready()) << d.log();
    EXPECT_EQ(d.log().find("did not shut down cleanly"), std::string::npos) << d.log();
    EXPECT_EQ(metric_value(d.port(), "metricsd_previous_shutdown_unclean", -1), 0);
    EXPECT_DOUBLE_EQ(metric_value(d.port(), "metricsd_last_unclean_shutdown_timestamp_seconds", -1),
                     last_alive)
        << "the last unclean end stays known";
  }
}

}  // namespace
}  // namespace metricsd::test
