#include "edgesketch/daemon/daemon.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/notify_socket.h"

namespace edgesketch::daemon {
namespace {

using test_support::NotifySocket;

TEST(ListenAddressTest, ParsesHostAndPort) {
  auto a = parse_listen_address("127.0.0.1:9781");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 9781);
  auto b = parse_listen_address("[::1]:80");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "::1");
  for (const char* bad : {"", "9781", "host:", ":1", "h:99999", "h:1x"}) {
    EXPECT_FALSE(parse_listen_address(bad).ok()) << bad;
  }
}

TEST(MetricsServerTest, ServesMetricsAndHealthOnLoopback) {
  auto server = MetricsServer::start("127.0.0.1:0", [] { return std::string("x_total 7\n"); });
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "x_total 7\n");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  auto health = client.Get("/-/healthy");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  (*server)->stop();
}

TEST(MetricsServerTest, AddressInUseIsAClearError) {
  auto first = MetricsServer::start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(first.ok());
  auto second = MetricsServer::start("127.0.0.1:" + std::to_string((*first)->port()),
                                     [] { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().to_string().find("cannot listen"), std::string::npos);
}

TEST(SignalsTest, ReceivesSignalsSynchronously) {
  Signals signals;
  EXPECT_FALSE(signals.wait(std::chrono::milliseconds(10)).has_value());
  ::kill(::getpid(), SIGHUP);
  EXPECT_EQ(signals.wait(std::chrono::milliseconds(1000)), SIGHUP);
  ::kill(::getpid(), SIGTERM);
  EXPECT_EQ(signals.wait(std::chrono::milliseconds(1000)), SIGTERM);
}

TEST(NotifierTest, SendsReadyWatchdogAndStoppingWhenNotifySocketIsSet) {
  NotifySocket socket;
  ::setenv("NOTIFY_SOCKET", socket.path().c_str(), 1);
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  Notifier notifier;
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  ASSERT_TRUE(notifier.enabled());
  ASSERT_TRUE(notifier.watchdog_interval().has_value());
  EXPECT_EQ(notifier.watchdog_interval()->count(), 2000000);
  ::setenv("NOTIFY_SOCKET", socket.path().c_str(), 1);  // sd_notify reads it on every call
  notifier.ready("serving");
  EXPECT_EQ(socket.receive(), "READY=1\nSTATUS=serving");
  notifier.watchdog();
  EXPECT_EQ(socket.receive(), "WATCHDOG=1");
  notifier.stopping();
  EXPECT_EQ(socket.receive(), "STOPPING=1");
  ::unsetenv("NOTIFY_SOCKET");
}

TEST(NotifierTest, IsANoOpWithoutNotifySocket) {
  ::unsetenv("NOTIFY_SOCKET");
  Notifier notifier;
  EXPECT_FALSE(notifier.enabled());
  EXPECT_FALSE(notifier.watchdog_interval().has_value());
  notifier.ready();  // nothing to check but that it does not fail
}

}  // namespace
}  // namespace edgesketch::daemon
