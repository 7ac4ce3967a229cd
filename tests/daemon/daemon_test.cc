#include "edgesketch/daemon/daemon.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

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

// run_main_loop() against a stand-in notify socket. The hooks raise() the next signal on the
// loop's own thread, so every step is driven by a signal or a hook, never by how long one waits.
// Each test sends fewer datagrams than the socket queues, so they are read after the loop.
class MainLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("NOTIFY_SOCKET", socket_.path().c_str(), 1);
    ::setenv("WATCHDOG_USEC", "30000", 1);  // ticks of 10 ms
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    notifier_ = std::make_unique<Notifier>();
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    ASSERT_TRUE(notifier_->enabled());
  }
  void TearDown() override { ::unsetenv("NOTIFY_SOCKET"); }

  // Every datagram the loop sent, in order.
  std::vector<std::string> sent() {
    std::vector<std::string> out;
    for (std::string m = socket_.receive(0); !m.empty(); m = socket_.receive(0)) {
      out.push_back(m);
    }
    return out;
  }

  Signals signals_;  // blocks the signals in the test's thread before anything else
  NotifySocket socket_;
  std::unique_ptr<Notifier> notifier_;
};

TEST_F(MainLoopTest, ReloadsOnSighupBetweenReloadingAndReadyAndStopsOnSigterm) {
  int reloads = 0;
  MainLoopHooks hooks;
  hooks.ready_status = "serving";
  hooks.reload = [&] {
    ++reloads;
    ::raise(SIGTERM);
  };
  hooks.healthy = [] { return true; };
  ::raise(SIGHUP);
  EXPECT_EQ(run_main_loop(signals_, *notifier_, hooks), SIGTERM);
  EXPECT_EQ(reloads, 1);
  const std::vector<std::string> m = sent();
  ASSERT_EQ(m.size(), 5u) << ::testing::PrintToString(m);
  EXPECT_EQ(m[0], "READY=1\nSTATUS=serving");
  EXPECT_EQ(m[1].rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << m[1];
  EXPECT_EQ(m[2], "READY=1\nSTATUS=serving");
  EXPECT_EQ(m[3], "WATCHDOG=1");
  EXPECT_EQ(m[4], "STOPPING=1");
}

// The watchdog is petted at each tick while healthy() holds, and not once it fails.
TEST_F(MainLoopTest, PetsTheWatchdogOnlyWhileHealthy) {
  int checks = 0;
  MainLoopHooks hooks;
  hooks.healthy = [&] {
    if (++checks <= 2) return true;
    ::raise(SIGINT);
    return false;
  };
  EXPECT_EQ(run_main_loop(signals_, *notifier_, hooks), SIGINT);
  EXPECT_EQ(checks, 3);
  EXPECT_EQ(sent(),
            (std::vector<std::string>{"READY=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"}));
}

// Without a reload hook a SIGHUP still answers RELOADING=1 and READY=1 (systemctl reload
// returns), and changes nothing.
TEST_F(MainLoopTest, ASighupWithoutAReloadHookOnlyAnswers) {
  MainLoopHooks hooks;
  hooks.ready_status = "running";
  hooks.healthy = [] {
    ::raise(SIGTERM);
    return true;
  };
  ::raise(SIGHUP);
  EXPECT_EQ(run_main_loop(signals_, *notifier_, hooks), SIGTERM);
  const std::vector<std::string> m = sent();
  ASSERT_EQ(m.size(), 5u) << ::testing::PrintToString(m);
  EXPECT_EQ(m[1].rfind("RELOADING=1", 0), 0u);
  EXPECT_EQ(m[2], "READY=1\nSTATUS=running");
  EXPECT_EQ(m[3], "WATCHDOG=1");
  EXPECT_EQ(m[4], "STOPPING=1");
}

}  // namespace
}  // namespace edgesketch::daemon
