// Both daemons with config files that spell MQTT connection keys the old way: --check-config
// prints one warning per old key and exits 0, two spellings with different values exit 2 naming
// the key, and a daemon started with such a file logs the warning and runs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "edgesketch/testbed/daemon_process.h"
#include "support/eventually.h"

namespace edgesketch::test_support {

using namespace testbed;
namespace {

namespace fs = std::filesystem;

class ConfigWarningsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("es-config-warnings-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // Nothing listens on broker_port_: the MQTT links keep retrying, the agent runs anyway.
    broker_port_ = free_port();
    metrics_port_ = free_port();
    http_port_ = free_port();
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  // Runs `program` with `args` to its exit; its exit code (-1: no normal exit within 60 s) and
  // its output.
  std::pair<int, std::string> run(const std::string& program, std::vector<std::string> args) {
    const std::string log = (dir_ / ("run" + std::to_string(runs_++) + ".log")).string();
    DaemonProcess p(program, std::move(args), log);
    if (!p.start()) return {-1, ""};
    const int status = p.stop(0, 60'000);  // signal 0: just wait for the exit
    return {status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, p.log_tail(100'000)};
  }

  // Polls until `ready` or 20 s have passed.
  std::string agent_config(const std::string& uplink_extra) {
    const std::string broker = "tcp://127.0.0.1:" + std::to_string(broker_port_);
    return "[agent]\ngateway_id = \"gw-warn\"\ndata_dir = \"" + (dir_ / "agent").string() +
           "\"\n[[input]]\ntype = \"mqtt\"\nbroker = \"" + broker + "\"\n[uplink]\nbroker = \"" +
           broker + "\"\n" + uplink_extra +
           "[metrics]\nlisten = \"127.0.0.1:" + std::to_string(metrics_port_) + "\"\n";
  }

  std::string collector_config(const std::string& mqtt_extra) {
    return "[collector]\ndata_dir = \"" + (dir_ / "collector").string() +
           "\"\n[mqtt]\nenabled = false\n" + mqtt_extra +
           "[http]\nlisten = \"127.0.0.1:" + std::to_string(http_port_) +
           "\"\n[[tenant]]\nname = \"t\"\ntokens = " + "[\"config-warnings-token-0123\"]\n";
  }

  fs::path dir_;
  int runs_ = 0;
  int broker_port_ = 0;
  int metrics_port_ = 0;
  int http_port_ = 0;
};

TEST_F(ConfigWarningsTest, AgentReportsOldUplinkKeys) {
  const std::string old_keys =
      write("old.toml", agent_config("backoff_min = \"100ms\"\nbackoff_max = \"2s\"\n"));
  auto [code, out] = run(ES_AGENT_BINARY, {"--check-config", "--config", old_keys});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("edgesketch-agent: warning: " + old_keys +
                     ": 'uplink.backoff_min': deprecated, rename it to 'reconnect_min' (the old "
                     "name is refused from edgesketch 0.2)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("'uplink.backoff_max': deprecated, rename it to 'reconnect_max'"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(": OK ("), std::string::npos) << out;

  const std::string current =
      write("current.toml", agent_config("reconnect_min = \"100ms\"\nreconnect_max = \"2s\"\n"));
  std::tie(code, out) = run(ES_AGENT_BINARY, {"--check-config", "--config", current});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out.find("edgesketch-agent: warning"), std::string::npos) << out;

  const std::string conflict =
      write("conflict.toml", agent_config("backoff_min = \"100ms\"\nreconnect_min = \"1s\"\n"));
  std::tie(code, out) = run(ES_AGENT_BINARY, {"--check-config", "--config", conflict});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("'uplink.backoff_min': deprecated name of 'uplink.reconnect_min', which "
                     "gives a different value"),
            std::string::npos)
      << out;

  // Started with the old keys, the agent logs the warning and runs.
  DaemonProcess agent(ES_AGENT_BINARY, {"--config", old_keys}, (dir_ / "agent.log").string());
  ASSERT_TRUE(agent.start());
  EXPECT_TRUE(eventually([&] { return http_get(metrics_port_, "/metrics").status == 200; }, 20'000,
                         /*poll_ms=*/50))
      << agent.log_tail();
  EXPECT_NE(agent.log_tail(100'000).find("'uplink.backoff_min': deprecated"), std::string::npos)
      << agent.log_tail();
  const int status = agent.stop(SIGTERM, 10'000);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << agent.log_tail();
}

TEST_F(ConfigWarningsTest, CollectorReportsOldTlsKeys) {
  const std::string old_keys =
      write("old.toml", collector_config("broker = \"ssl://127.0.0.1:8883\"\nca_file = "
                                         "\"/etc/edgesketch/ca.crt\"\n"));
  auto [code, out] = run(ES_COLLECTOR_BINARY, {"--check-config", "--config", old_keys});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("edgesketch-collector: warning: " + old_keys +
                     ": 'mqtt.ca_file': deprecated, rename it to 'tls_ca_file' (the old name is "
                     "refused from edgesketch 0.2)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(": OK ("), std::string::npos) << out;

  const std::string conflict =
      write("conflict.toml", collector_config("broker = \"ssl://127.0.0.1:8883\"\nca_file = "
                                              "\"/a.crt\"\ntls_ca_file = \"/b.crt\"\n"));
  std::tie(code, out) = run(ES_COLLECTOR_BINARY, {"--check-config", "--config", conflict});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("'mqtt.ca_file': deprecated name of 'mqtt.tls_ca_file', which gives a "
                     "different value"),
            std::string::npos)
      << out;

  // Started with the old key, the collector logs the warning and serves.
  DaemonProcess collector(ES_COLLECTOR_BINARY, {"--config", old_keys},
                          (dir_ / "collector.log").string());
  ASSERT_TRUE(collector.start());
  EXPECT_TRUE(eventually([&] { return http_get(http_port_, "/-/ready").status == 200; }, 20'000,
                         /*poll_ms=*/50))
      << collector.log_tail();
  EXPECT_NE(collector.log_tail(100'000).find("'mqtt.ca_file': deprecated"), std::string::npos)
      << collector.log_tail();
  const int status = collector.stop(SIGTERM, 30'000);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << collector.log_tail();
}

}  // namespace
}  // namespace edgesketch::test_support
