// kill -9 of edgesketch-collector five times during ingest, with a real agent forwarder
// (outbox + forwarder) resending whatever was not acked: afterwards every batch is stored
// exactly once — per window, count, min and max exact and sum within 1e-9 relative, no window
// missing or extra — and the outbox is empty (everything acked). Recovery times are reported.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "agent/forwarder_harness.h"
#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "edgesketch/wire/codec.h"
#include "support/eventually.h"

namespace edgesketch {
namespace {

using agent::testing::BatchMaker;
using agent::testing::ExpectedWindow;
using agent::testing::TempDir;
using testbed::DaemonProcess;
using testbed::http_get;

constexpr char kToken[] = "crash-test-token-0123456789";

std::string collector_config(const std::string& data_dir, const std::string& broker, int port) {
  return "[collector]\ndata_dir = \"" + data_dir + "\"\nlog_level = \"info\"\n[mqtt]\nbroker = \"" +
         broker + "\"\nclient_id = \"crash-test-collector\"\nreconnect_min = \"100ms\"\n" +
         "reconnect_max = \"500ms\"\n[http]\nlisten = \"127.0.0.1:" + std::to_string(port) +
         "\"\n[[tenant]]\nname = \"acme\"\ntokens = [\"" + kToken + "\"]\n";
}

bool wait_ready(int port, int timeout_ms) {
  return test_support::eventually([&] { return http_get(port, "/-/ready").status == 200; },
                                  timeout_ms);
}

// (device, window_start) -> the window as the collector serves it.
using Served = std::map<std::pair<std::string, std::int64_t>, ExpectedWindow>;

void read_field(int port, const std::string& field, std::int64_t start_ms, std::int64_t end_ms,
                Served& out) {
  const std::string path = "/api/v1/query_range?query=temperature_" + field +
                           "&start=" + std::to_string(start_ms / 1000) +
                           "&end=" + std::to_string(end_ms / 1000) + "&step=10";
  const auto reply = http_get(port, path, kToken);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto json = nlohmann::json::parse(reply.body);
  for (const auto& series : json["data"]["result"]) {
    const std::string device = series["metric"]["device"];
    for (const auto& point : series["values"]) {
      // The point at t merges the windows inside (t - 10 s, t]: the window starting at t - 10 s.
      const auto t_ms = static_cast<std::int64_t>(std::llround(point[0].get<double>() * 1000));
      const double v = std::stod(point[1].get<std::string>());
      ExpectedWindow& w = out[{device, t_ms - 10'000}];
      if (field == "count") w.count = static_cast<std::uint64_t>(v);
      if (field == "sum") w.sum = v;
      if (field == "min") w.min = v;
      if (field == "max") w.max = v;
    }
  }
}

// edgesketch-collector with collector_config() plus `extra` (TOML), started and ready.
std::unique_ptr<DaemonProcess> start_collector(TempDir& dir, const std::string& name,
                                               const std::string& data_dir,
                                               const std::string& broker_uri, int port,
                                               const std::string& extra = "") {
  std::ofstream(dir.file(name + ".toml")) << collector_config(data_dir, broker_uri, port) << extra;
  auto p = std::make_unique<DaemonProcess>(
      ES_COLLECTOR_BINARY, std::vector<std::string>{"--config", dir.file(name + ".toml")},
      dir.file(name + ".log"));
  EXPECT_TRUE(p->start());
  EXPECT_TRUE(wait_ready(port, 20'000)) << p->log_tail();
  return p;
}

// Every window `maker` made, as the collector on `port` serves it.
Served read_windows(int port, const BatchMaker& maker) {
  std::int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const auto& [key, e] : maker.expected()) {
    lo = std::min(lo, key.window_start_ms);
    hi = std::max(hi, key.window_start_ms);
  }
  Served served;
  for (const char* field : {"count", "sum", "min", "max"}) {
    read_field(port, field, lo + 10'000, hi + 10'000, served);
  }
  return served;
}

// An agent's outbox and a started forwarder to `broker_uri`, as the collector tests use them.
struct Uplink {
  std::unique_ptr<agent::Outbox> outbox;
  std::unique_ptr<agent::Forwarder> forwarder;

  Uplink(TempDir& dir, const std::string& broker_uri, std::int64_t resend_ms) {
    auto o = agent::Outbox::open(agent::testing::outbox_options(dir.file("outbox.db"), resend_ms));
    EXPECT_TRUE(o.ok()) << o.status().to_string();
    if (!o.ok()) return;
    outbox = std::move(*o);
    auto f = agent::Forwarder::create(agent::testing::forwarder_options(broker_uri, resend_ms),
                                      outbox.get());
    EXPECT_TRUE(f.ok()) << f.status().to_string();
    if (!f.ok()) return;
    forwarder = std::move(*f);
    forwarder->start();
  }
  bool ok() const { return forwarder != nullptr; }
  bool drained(int timeout_ms) {
    return test_support::eventually([&] { return agent::testing::outbox_rows(*outbox) == 0; },
                                    timeout_ms);
  }
};

TEST(CollectorCrashTest, KillNineFiveTimesDuringIngestStoresEveryBatchExactlyOnce) {
  testbed::MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  TempDir dir;
  const int port = testbed::free_port();
  std::ofstream(dir.file("collector.toml"))
      << collector_config(dir.file("data"), broker.uri(), port);
  DaemonProcess collector(ES_COLLECTOR_BINARY, {"--config", dir.file("collector.toml")},
                          dir.file("collector.log"));
  ASSERT_TRUE(collector.start());
  ASSERT_TRUE(wait_ready(port, 20'000)) << collector.log_tail();

  Uplink up(dir, broker.uri(), 1500);
  ASSERT_TRUE(up.ok());

  BatchMaker maker;
  int next = 0;
  auto append_some = [&](int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(up.outbox->append(maker.make(next++), 0).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
  };
  std::vector<double> recovery_s;
  for (int kill = 0; kill < 5; ++kill) {
    append_some(25);
    collector.stop(SIGKILL, 2000);
    append_some(5);  // batches sent while the collector is down stay unacked and are resent
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(collector.start());
    ASSERT_TRUE(wait_ready(port, 30'000)) << collector.log_tail();
    recovery_s.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  append_some(10);
  ASSERT_TRUE(up.drained(90'000)) << "unacked batches remain; collector log:\n"
                                  << collector.log_tail();
  up.forwarder->stop();

  std::string report;
  for (double s : recovery_s) report += std::to_string(s) + " ";
  std::printf("collector restart-to-ready times after kill -9 (s): %s\n", report.c_str());
  ::testing::Test::RecordProperty("recovery_seconds", report);

  // Every window exactly once.
  const Served served = read_windows(port, maker);
  ASSERT_EQ(served.size(), maker.expected().size());
  for (const auto& [key, e] : maker.expected()) {
    const std::string device = key.series.substr(key.series.find("device=") + 7, 2);
    auto it = served.find({device, key.window_start_ms});
    ASSERT_NE(it, served.end()) << key.series << " @" << key.window_start_ms << " missing";
    EXPECT_EQ(it->second.count, e.count) << key.series << " @" << key.window_start_ms;
    EXPECT_EQ(it->second.min, e.min);
    EXPECT_EQ(it->second.max, e.max);
    EXPECT_NEAR(it->second.sum, e.sum, 1e-9 * std::max(1.0, std::fabs(e.sum)));
  }
  EXPECT_EQ(collector.stop(SIGTERM, 30'000) >= 0, true) << collector.log_tail();
}

// `edgesketch-collector backup` while a forwarder keeps sending and the collector flushes and
// merges every second: the copy, served by a second collector, holds every window acked before
// the backup started exactly once, and no window more than once.
TEST(CollectorBackupTest, BackupCommandDuringIngestRestoresEveryAckedBatchOnce) {
  testbed::MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  TempDir dir;
  const int port = testbed::free_port();
  const std::string store_keys = "[store]\nmemtable_bytes = \"64KiB\"\nflush_interval = \"1s\"\n";
  auto collector =
      start_collector(dir, "collector", dir.file("data"), broker.uri(), port, store_keys);

  Uplink up(dir, broker.uri(), 1500);
  ASSERT_TRUE(up.ok());
  BatchMaker maker;
  int next = 0;
  for (; next < 60; ++next) ASSERT_TRUE(up.outbox->append(maker.make(next), 0).ok());
  ASSERT_TRUE(up.drained(60'000));
  const auto acked_before = maker.expected();

  std::atomic<bool> sending{true};
  std::thread more([&] {
    for (int i = 0; i < 60 && sending; ++i) {
      ASSERT_TRUE(up.outbox->append(maker.make(next++), 0).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  });
  const std::string dest = dir.file("backup");
  const std::string cmd = std::string(ES_COLLECTOR_BINARY) + " backup --config " +
                          dir.file("collector.toml") + " " + dest + " > " + dir.file("backup.log") +
                          " 2>&1";
  const int rc = std::system(cmd.c_str());
  sending = false;
  more.join();
  std::ifstream log_in(dir.file("backup.log"));
  const std::string backup_log((std::istreambuf_iterator<char>(log_in)), {});
  ASSERT_EQ(rc, 0) << backup_log;
  EXPECT_NE(backup_log.find("backed up"), std::string::npos) << backup_log;
  std::printf("%s", backup_log.c_str());
  ASSERT_TRUE(up.drained(60'000));
  up.forwarder->stop();
  EXPECT_EQ(collector->stop(SIGTERM, 30'000) >= 0, true) << collector->log_tail();

  // Restore: a collector whose data directory is the copy.
  const int port2 = testbed::free_port();
  auto restored = start_collector(dir, "restored", dest, broker.uri(), port2, store_keys);
  const Served served = read_windows(port2, maker);
  for (const auto& [key, e] : maker.expected()) {
    const std::string device = key.series.substr(key.series.find("device=") + 7, 2);
    auto it = served.find({device, key.window_start_ms});
    if (acked_before.count(key)) {
      ASSERT_NE(it, served.end()) << key.series << " @" << key.window_start_ms << " missing";
    }
    if (it == served.end()) continue;
    EXPECT_EQ(it->second.count, e.count) << key.series << " @" << key.window_start_ms;
    EXPECT_EQ(it->second.min, e.min);
    EXPECT_EQ(it->second.max, e.max);
  }
  EXPECT_LE(served.size(), maker.expected().size());
  EXPECT_EQ(restored->stop(SIGTERM, 30'000) >= 0, true) << restored->log_tail();
}

// A real full disk: the collector's data_dir on an 8 MiB tmpfs filled to the last byte while a
// forwarder sends. Nothing is acked and nothing is rejected (the outbox keeps every batch), the
// stall shows on /metrics; once the filler is deleted the collector resumes by itself and every
// window is stored exactly once, also after a restart. Needs CAP_SYS_ADMIN (mount).
TEST(CollectorDiskFullTest, FullTmpfsIsHeldNotRejectedAndResumesLosingNothing) {
  testbed::MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  TempDir dir;
  const std::string data = dir.file("data");
  std::filesystem::create_directories(data);
  testbed::TmpfsMount tmpfs(data, "8m");
  ASSERT_EQ(tmpfs.error(), "");
  const int port = testbed::free_port();
  auto collector = start_collector(dir, "collector", data, broker.uri(), port);

  Uplink up(dir, broker.uri(), 1000);
  ASSERT_TRUE(up.ok());
  BatchMaker maker;
  int next = 0;
  for (; next < 20; ++next) ASSERT_TRUE(up.outbox->append(maker.make(next), 0).ok());
  ASSERT_TRUE(up.drained(30'000));

  const std::string filler = data + "/filler";
  testbed::fill_file_system(filler);
  for (; next < 60; ++next) ASSERT_TRUE(up.outbox->append(maker.make(next), 0).ok());
  auto stalled = [&] {
    const std::string m = http_get(port, "/metrics").body;
    return m.find("edgesketch_collector_store_stalled{stage=\"wal\"} 1") != std::string::npos ||
           m.find("edgesketch_collector_store_stalled{stage=\"catalog\"} 1") != std::string::npos;
  };
  ASSERT_TRUE(test_support::eventually(stalled, 20'000))
      << http_get(port, "/metrics").body << collector->log_tail();
  EXPECT_GT(agent::testing::outbox_rows(*up.outbox), 0u);  // held, not acked
  EXPECT_EQ(up.forwarder->stats().rejected, 0u);           // and never rejected

  std::filesystem::remove(filler);
  ASSERT_TRUE(up.drained(60'000)) << collector->log_tail();
  EXPECT_FALSE(stalled());
  EXPECT_EQ(up.forwarder->stats().rejected, 0u);
  up.forwarder->stop();
  const std::string metrics = http_get(port, "/metrics").body;
  EXPECT_NE(metrics.find("edgesketch_collector_store_stalls_total"), std::string::npos);

  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      ASSERT_EQ(collector->stop(SIGTERM, 30'000) >= 0, true) << collector->log_tail();
      ASSERT_TRUE(collector->start());
      ASSERT_TRUE(wait_ready(port, 20'000)) << collector->log_tail();
    }
    const Served served = read_windows(port, maker);
    ASSERT_EQ(served.size(), maker.expected().size()) << "round " << round;
    for (const auto& [key, e] : maker.expected()) {
      const std::string device = key.series.substr(key.series.find("device=") + 7, 2);
      auto it = served.find({device, key.window_start_ms});
      ASSERT_NE(it, served.end()) << key.series << " @" << key.window_start_ms << " missing";
      EXPECT_EQ(it->second.count, e.count) << key.series << " @" << key.window_start_ms;
    }
  }
  EXPECT_EQ(collector->stop(SIGTERM, 30'000) >= 0, true) << collector->log_tail();
}

// Gateway credentials from a gateways_file: SIGHUP puts an edited file in effect (an added
// gateway may ingest, a removed one is refused), and a file that does not load changes nothing.
TEST(CollectorGatewayReloadTest, SighupPutsAddedAndRemovedGatewaysInEffect) {
  testbed::MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  TempDir dir;
  const std::string file = dir.file("gateways");
  std::ofstream(file) << "# tenant gateway token\nacme gw-1 gw-1-token-0123456789\n";
  const int port = testbed::free_port();
  std::string config = collector_config(dir.file("data"), broker.uri(), port);
  config.replace(config.find("[collector]\n"), 12,
                 "[collector]\ngateways_file = \"" + file + "\"\n");
  std::ofstream(dir.file("collector.toml")) << config;
  auto collector = std::make_unique<DaemonProcess>(
      ES_COLLECTOR_BINARY, std::vector<std::string>{"--config", dir.file("collector.toml")},
      dir.file("collector.log"));
  ASSERT_TRUE(collector->start());
  ASSERT_TRUE(wait_ready(port, 20'000)) << collector->log_tail();

  BatchMaker maker;
  auto post = [&](const std::string& gateway, const std::string& token, std::uint64_t seq) {
    wire::WindowBatch b = maker.make(static_cast<int>(seq));
    b.gateway_id = gateway;
    b.seq = seq;
    b.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    const Bytes body = wire::encode_window_batch(b);
    const auto r =
        testbed::http_post(port, "/api/v1/ingest",
                           std::string(reinterpret_cast<const char*>(body.data()), body.size()),
                           "application/octet-stream", token);
    return r.status;
  };
  auto reloaded = [&](const std::string& result, int n) {
    const std::string line =
        "edgesketch_collector_config_reloads_total{result=\"" + result + "\"} " + std::to_string(n);
    return test_support::eventually(
        [&] { return http_get(port, "/metrics").body.find(line) != std::string::npos; }, 10'000);
  };
  EXPECT_EQ(post("gw-1", "gw-1-token-0123456789", 1), 200);
  EXPECT_EQ(post("gw-2", "gw-2-token-0123456789", 2), 401);
  EXPECT_EQ(post("gw-2", "gw-1-token-0123456789", 3), 403);  // gw-1's token, gw-2's batch

  std::ofstream(file) << "acme gw-2 gw-2-token-0123456789\n";
  ASSERT_EQ(::kill(collector->pid(), SIGHUP), 0);
  ASSERT_TRUE(reloaded("applied", 1)) << collector->log_tail();
  EXPECT_EQ(post("gw-2", "gw-2-token-0123456789", 4), 200);
  EXPECT_EQ(post("gw-1", "gw-1-token-0123456789", 5), 401);
  EXPECT_NE(http_get(port, "/metrics").body.find("edgesketch_collector_gateways 1"),
            std::string::npos);

  std::ofstream(file) << "acme gw-3\n";  // no token: the file does not load
  ASSERT_EQ(::kill(collector->pid(), SIGHUP), 0);
  ASSERT_TRUE(reloaded("rejected", 1)) << collector->log_tail();
  EXPECT_EQ(post("gw-2", "gw-2-token-0123456789", 6), 200);
  EXPECT_GE(collector->stop(SIGTERM, 30'000), 0) << collector->log_tail();
}

}  // namespace
}  // namespace edgesketch
