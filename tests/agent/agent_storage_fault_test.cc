// The agent (AgentApp, in process) through storage faults: its journal and its outbox (through
// the Env's SQLite VFS) write through one fault-injecting env::Env (FaultEnv); a real mosquitto
// feeds its MQTT input and carries its windows to the ack double. For each write site and fault
// (ENOSPC / SQLITE_FULL, EIO / SQLITE_IOERR, a failed fsync): the stall shows on /metrics while
// it lasts (one episode), the agent resumes by itself when the fault clears, and every reading
// arrives exactly once with nothing counted as dropped. A hung journal fsync holds the
// aggregator thread, which fills the rings up to their ring_bytes: MQTT waits, UDP drops
// (counted as ring_full).
//
// Payloads are published by mosquitto_pub, a process of its own: the agent's MQTT sink holds
// Paho's receive thread while the journal cannot write (that is the backpressure), and Paho C
// serialises every client of a process on it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "agent/agent_app_harness.h"
#include "app/agent_app.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "edgesketch/testbed/temp_dir.h"
#include "edgesketch/wire/codec.h"
#include "support/ack_double.h"
#include "support/agent_brokers.h"
#include "support/eventually.h"
#include "support/fault_env.h"
#include "support/metrics_text.h"

namespace edgesketch::agent {
namespace {

using edgesketch::testing::FaultEnv;
using edgesketch::testing::PartialWrite;
using test_support::AckDouble;
using test_support::AckDoubleOptions;
using test_support::eventually;
using testbed::MosquittoBroker;
using testbed::MosquittoOptions;
using Op = FaultEnv::Op;

// Readings of the device series the ack double committed.
std::uint64_t device_readings(const AckDouble& ack) {
  std::uint64_t n = 0;
  for (const auto& [k, w] : ack.windows()) n += w.agg.count();
  return n;
}

// What the faults are aimed at, inside the agent's data_dir: the journal's directory and
// segments, and the outbox's database with its -wal and -shm files.
constexpr const char* kJournal = "/data/journal";
constexpr const char* kOutbox = "/data/outbox.db";

struct FaultCase {
  std::string name;
  std::string component;               // "journal" or "outbox"
  std::function<void(FaultEnv&)> set;  // turns the fault on; heal() turns it off
  int payloads_during = 200;           // published while the fault is on
};

void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name; }

// One nanopb datagram of one reading, stamped now.
void send_datagram(int port, int i) {
  wire::ReadingBatch b;
  b.device_id = "dev-" + std::to_string(i % 4);
  b.batch_seq = static_cast<std::uint64_t>(i);
  wire::Reading r;
  r.metric = "vibration";
  r.ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  r.value = i * 0.5;
  b.readings.push_back(r);
  auto bytes = wire::encode_reading_batch(b);
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::sendto(fd, bytes->data(), bytes->size(), 0, reinterpret_cast<sockaddr*>(&addr),
                     sizeof addr),
            static_cast<ssize_t>(bytes->size()));
  ::close(fd);
}

class AgentStorageFaultTest : public ::testing::TestWithParam<FaultCase> {
 protected:
  void SetUp() override {
    tmp_ = std::make_unique<testbed::TempDir>("es-agent-fault");
    ASSERT_FALSE(tmp_->path().empty()) << tmp_->error();
    dir_ = tmp_->path();
    const Status s = brokers_.start();
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  void TearDown() override {
    app_.reset();
    std::filesystem::remove(dir_ / "lines.txt");
    brokers_.stop();
    if (HasFailure()) tmp_->keep();
  }

  // `udp_port` > 0: a UDP input on it instead of the MQTT one. `input_keys`: more keys of the
  // input.
  void start_agent(int udp_port = 0, const std::string& input_keys = "") {
    const std::string input =
        (udp_port > 0 ? "[[input]]\nname = \"local\"\ntype = \"udp\"\nbind = \"127.0.0.1:" +
                            std::to_string(udp_port) + "\"\nreceive_buffer = \"4MiB\"\n"
                      : "[[input]]\nname = \"local\"\ntype = \"mqtt\"\nformat = \"line\"\n" +
                            std::string("broker = \"") + brokers_.local->uri() +
                            "\"\ntopics = [\"devices/+/readings\"]\nqos = 1\n" +
                            "client_id = \"fault-in\"\n") +
        input_keys;
    const std::string text =
        "[agent]\ngateway_id = \"gw-fault\"\ndata_dir = \"" + dir_.string() + "/data\"\n" + input +
        "[journal]\nfsync_interval = \"20ms\"\nsegment_bytes = \"64KiB\"\n" +
        "[[rule]]\nname = \"per-device\"\ngroup_by = [\"device\"]\nwindow = \"1s\"\n" +
        "[window]\nallowed_lateness = \"200ms\"\nidle_timeout = \"1s\"\n" +
        "[uplink]\nbroker = \"" + brokers_.uplink->uri() +
        "\"\nresend_timeout = \"2s\"\nreconnect_min = \"100ms\"\nreconnect_max = \"500ms\"\n" +
        "backlog_rate_cap = 0\n[metrics]\nlisten = \"\"\n[self_metrics]\nenabled = false\n";
    auto app = testing::create_agent_app(text, "fault-test", AgentDeps{.env = &faults_});
    ASSERT_TRUE(app.ok()) << app.status().to_string();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->start().ok());
    ASSERT_TRUE(eventually([&] { return m("edgesketch_agent_uplink_state") == 1; }, 10'000));
    if (udp_port > 0) return;
    ASSERT_TRUE(eventually([&] { return m("edgesketch_agent_input_connected") == 1; }, 10'000));
  }

  double m(const std::string& prefix) const { return testing::metric(*app_, prefix); }
  double stalled(const std::string& component) const {
    return m("edgesketch_agent_storage_stalled{component=\"" + component + "\"}");
  }

  // Publishes n payloads of one reading each (no timestamp: the agent's clock) at QoS 1 with
  // mosquitto_pub, which returns once the broker has them all.
  void publish(int n) {
    const std::string lines = (dir_ / "lines.txt").string();
    {
      std::ofstream f(lines);
      for (int i = 0; i < n; ++i, ++published_) {
        f << "vibration,device=dev-" << published_ % 4
          << ",line=line-0,site=site-01 value=" << published_ * 0.5 << "\n";
      }
    }
    const std::string cmd = "mosquitto_pub -h 127.0.0.1 -p " +
                            std::to_string(brokers_.local->port()) +
                            " -q 1 -i fault-pub -t devices/dev-0/readings -l < " + lines;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }

  // Publishes `n` payloads of `lines` 4-field lines each (no timestamps: the agent's clock), one
  // mosquitto_pub per payload.
  void publish_large(int n, int lines) {
    const std::string file = (dir_ / "lines.txt").string();
    for (int p = 0; p < n; ++p) {
      {
        std::ofstream f(file);
        for (int i = 0; i < lines; ++i, ++published_) {
          f << "iot,device=dev-" << published_ % 4 << ",site=site-01 temperature=" << i * 0.25
            << ",humidity=" << p << ",pressure=1013.25,vibration=" << published_ * 0.5 << "\n";
        }
      }
      const std::string cmd = "mosquitto_pub -h 127.0.0.1 -p " +
                              std::to_string(brokers_.local->port()) +
                              " -q 1 -i fault-pub -t devices/dev-0/readings -f " + file;
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
  }

  // Holds the aggregator thread in a journal fsync that does not return (until
  // faults_.release()): `send_one` makes the journal dirty, and the aggregator syncs it.
  void hang_aggregator(const std::function<void()>& send_one) {
    faults_.hold(Op::kSync, kJournal);
    send_one();
    ASSERT_TRUE(faults_.wait_held(1, std::chrono::seconds(10))) << app_->render_metrics();
  }

  std::unique_ptr<testbed::TempDir> tmp_;
  std::filesystem::path dir_;
  test_support::AgentBrokers brokers_;
  FaultEnv faults_;  // outlives app_
  std::unique_ptr<AgentApp> app_;
  int published_ = 0;
};

// UDP has no backpressure: while the journal cannot write, datagrams are held in memory (4,096 at
// most), journaled in order once it can; beyond the hold they are dropped and counted as
// journal_stalled. Every datagram sent is either delivered exactly once or counted.
TEST_F(AgentStorageFaultTest, UdpHoldsWhileTheJournalIsStalledAndCountsWhatDoesNotFit) {
  auto port = testbed::pick_free_loopback_port();
  ASSERT_TRUE(port.ok());
  start_agent(*port);
  int sent = 0;
  for (; sent < 100; ++sent) send_datagram(*port, sent);
  ASSERT_TRUE(
      eventually([&] { return m("edgesketch_agent_payloads_accepted_total") >= 100; }, 10'000));

  faults_.fail(Op::kWrite, kJournal, ENOSPC, {.partial = PartialWrite::kNone});
  for (; sent < 100 + 5000; ++sent) {
    send_datagram(*port, sent);
    // Paced, so the socket's receive buffer is not what overflows.
    if (sent % 200 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto held_or_dropped = [&] {
    return m("edgesketch_agent_input_held_payloads") +
           m("edgesketch_agent_dropped_readings_total{reason=\"journal_stalled\"}") +
           m("edgesketch_agent_udp_socket_drops_total");
  };
  ASSERT_TRUE(eventually([&] { return held_or_dropped() >= 5000; }, 10'000))
      << app_->render_metrics();
  EXPECT_EQ(stalled("journal"), 1);
  EXPECT_EQ(m("edgesketch_agent_input_held_payloads"), 4096);
  EXPECT_GT(m("edgesketch_agent_dropped_readings_total{reason=\"journal_stalled\"}"), 0);

  faults_.heal();
  // Held datagrams are journaled as the next ones arrive.
  ASSERT_TRUE(eventually(
      [&] {
        send_datagram(*port, sent++);
        return m("edgesketch_agent_input_held_payloads") == 0;
      },
      10'000))
      << app_->render_metrics();
  EXPECT_EQ(stalled("journal"), 0);
  // Every datagram sent is taken or counted before the agent stops.
  ASSERT_TRUE(eventually(
      [&] {
        return m("edgesketch_agent_payloads_accepted_total") +
                   m("edgesketch_agent_dropped_readings_total") +
                   m("edgesketch_agent_udp_socket_drops_total") ==
               sent;
      },
      10'000))
      << app_->render_metrics();
  const std::string metrics = app_->render_metrics();
  const double dropped =
      test_support::metric_sum(metrics, "edgesketch_agent_dropped_readings_total");
  const double socket_drops =
      test_support::metric_sum(metrics, "edgesketch_agent_udp_socket_drops_total");
  EXPECT_EQ(test_support::metric_sum(
                metrics, "edgesketch_agent_storage_stalls_total{component=\"journal\"}"),
            1);
  app_->stop(5000);
  const auto want = static_cast<std::uint64_t>(sent - dropped - socket_drops);
  EXPECT_TRUE(eventually([&] { return device_readings(*brokers_.ack) >= want; }, 20'000))
      << device_readings(*brokers_.ack) << " of " << want;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // anything extra arrives too
  EXPECT_EQ(device_readings(*brokers_.ack), want)
      << "sent " << sent << ", dropped " << dropped << ", socket drops " << socket_drops << "\n"
      << app_->render_metrics();
}

// MQTT: the ring holds 2 MiB of parsed readings, a payload of 1,000 4-field lines ~1.2 MB; while
// the aggregator hangs, one such payload waits in the ring and the next in the sink (Paho's
// thread: the broker queues the rest). Released, every reading arrives, none is dropped.
TEST_F(AgentStorageFaultTest, MqttWaitsOnAFullRingInBytesLosingNothing) {
  start_agent(0, "ring_bytes = \"2MiB\"\n");
  publish(4);
  ASSERT_TRUE(
      eventually([&] { return m("edgesketch_agent_payloads_accepted_total") >= 4; }, 10'000));
  hang_aggregator([&] { publish(1); });
  publish_large(6, 1000);
  // A large payload in the ring and the next one in the sink (received, not accepted), which has
  // no room for it while the aggregator hangs: the ring's bytes stay within ring_bytes.
  ASSERT_TRUE(eventually(
      [&] {
        return m("edgesketch_agent_ring_bytes") > 1'000'000 &&
               m("edgesketch_agent_input_messages_total") >
                   m("edgesketch_agent_payloads_accepted_total");
      },
      10'000))
      << app_->render_metrics();
  EXPECT_LE(m("edgesketch_agent_ring_bytes"), 2 << 20);
  EXPECT_LT(m("edgesketch_agent_payloads_accepted_total"), 5 + 6);
  faults_.release();

  ASSERT_TRUE(
      eventually([&] { return m("edgesketch_agent_payloads_accepted_total") == 5 + 6; }, 20'000))
      << app_->render_metrics();
  EXPECT_EQ(m("edgesketch_agent_dropped_readings_total"), 0) << app_->render_metrics();
  app_->stop(5000);
  const std::uint64_t want = 5 + 6 * 1000 * 4;
  EXPECT_TRUE(eventually([&] { return device_readings(*brokers_.ack) >= want; }, 20'000))
      << device_readings(*brokers_.ack) << " of " << want;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // anything extra arrives too
  EXPECT_EQ(device_readings(*brokers_.ack), want);
}

// UDP: while the aggregator hangs, the ring takes datagrams until its 64 KiB are in use, and
// drops the rest, counted as ring_full. Every datagram is delivered once or counted.
TEST_F(AgentStorageFaultTest, UdpDropsPastTheRingsBytesAreCounted) {
  auto port = testbed::pick_free_loopback_port();
  ASSERT_TRUE(port.ok());
  start_agent(*port, "ring_bytes = \"64KiB\"\n");
  int sent = 0;
  hang_aggregator([&] { send_datagram(*port, sent++); });
  for (; sent < 1 + 1000; ++sent) {
    send_datagram(*port, sent);
    // Paced, so the socket's receive buffer is not what overflows.
    if (sent % 200 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto taken_or_counted = [&] {
    return m("edgesketch_agent_payloads_accepted_total") +
           m("edgesketch_agent_dropped_readings_total") +
           m("edgesketch_agent_udp_socket_drops_total");
  };
  ASSERT_TRUE(eventually([&] { return taken_or_counted() == sent; }, 10'000))
      << app_->render_metrics();
  const double ring_full = m("edgesketch_agent_dropped_readings_total{reason=\"ring_full\"}");
  EXPECT_GT(ring_full, 0) << app_->render_metrics();
  EXPECT_EQ(m("edgesketch_agent_dropped_readings_total"), ring_full);
  EXPECT_GT(m("edgesketch_agent_ring_bytes"), 0);
  EXPECT_LE(m("edgesketch_agent_ring_bytes"), 64 << 10);
  EXPECT_LT(m("edgesketch_agent_ring_fill"), m("edgesketch_agent_ring_capacity"));
  faults_.release();

  const double socket_drops = m("edgesketch_agent_udp_socket_drops_total");
  app_->stop(5000);
  const auto want = static_cast<std::uint64_t>(sent - ring_full - socket_drops);
  EXPECT_TRUE(eventually([&] { return device_readings(*brokers_.ack) >= want; }, 20'000))
      << device_readings(*brokers_.ack) << " of " << want;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // anything extra arrives too
  EXPECT_EQ(device_readings(*brokers_.ack), want);
}

TEST_P(AgentStorageFaultTest, StallIsVisibleAndTheAgentResumesLosingNothing) {
  const FaultCase& fc = GetParam();
  start_agent();
  publish(200);
  ASSERT_TRUE(
      eventually([&] { return m("edgesketch_agent_payloads_accepted_total") >= 200; }, 10'000));
  EXPECT_EQ(stalled(fc.component), 0);

  fc.set(faults_);
  publish(fc.payloads_during);
  ASSERT_TRUE(eventually([&] { return stalled(fc.component) == 1; }, 15'000))
      << app_->render_metrics();
  // Retried while the fault lasts, still one episode, and the stall stays on /metrics.
  const std::uint64_t hits = faults_.injected();
  ASSERT_TRUE(eventually([&] { return faults_.injected() >= hits + 3; }, 10'000));
  EXPECT_EQ(stalled(fc.component), 1);
  if (fc.component == "outbox") {
    // Closed windows wait in memory, and what they hold shows.
    ASSERT_TRUE(eventually([&] { return m("edgesketch_agent_outbox_held_batches") > 0; }, 10'000))
        << app_->render_metrics();
    EXPECT_GT(m("edgesketch_agent_outbox_held_bytes"), 0);
  }
  faults_.heal();

  ASSERT_TRUE(eventually([&] { return stalled(fc.component) == 0; }, 15'000))
      << app_->render_metrics();
  publish(200);
  const double want_payloads = published_;
  ASSERT_TRUE(eventually(
      [&] { return m("edgesketch_agent_payloads_accepted_total") >= want_payloads; }, 20'000))
      << app_->render_metrics();
  const std::string metrics = app_->render_metrics();
  EXPECT_EQ(test_support::metric_sum(metrics, "edgesketch_agent_storage_stalls_total{component=\"" +
                                                  fc.component + "\"}"),
            1)
      << metrics;
  EXPECT_EQ(test_support::metric_sum(metrics, "edgesketch_agent_dropped_readings_total"), 0)
      << metrics;
  EXPECT_EQ(test_support::metric_sum(metrics, "edgesketch_agent_payloads_accepted_total"),
            want_payloads);

  // SIGTERM's path: every window flushed into the outbox, shipped, acked.
  app_->stop(5000);
  EXPECT_EQ(m("edgesketch_agent_outbox_held_batches"), 0);
  EXPECT_EQ(m("edgesketch_agent_outbox_held_bytes"), 0);
  const std::uint64_t want = static_cast<std::uint64_t>(published_);
  EXPECT_TRUE(eventually([&] { return device_readings(*brokers_.ack) >= want; }, 20'000))
      << device_readings(*brokers_.ack) << " of " << want;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // anything extra arrives too
  EXPECT_EQ(device_readings(*brokers_.ack), want);
  EXPECT_EQ(brokers_.ack->merge_errors(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    WriteSites, AgentStorageFaultTest,
    ::testing::Values(
        FaultCase{"journal_append_enospc", "journal",
                  [](FaultEnv& f) {
                    f.fail(Op::kWrite, kJournal, ENOSPC, {.partial = PartialWrite::kNone});
                  }},
        FaultCase{"journal_append_eio_partial", "journal",
                  [](FaultEnv& f) {
                    f.fail(Op::kWrite, kJournal, EIO, {.partial = PartialWrite::kHalf});
                  }},
        FaultCase{"journal_fsync_eio", "journal",
                  [](FaultEnv& f) {
                    f.fail(Op::kSync, kJournal, EIO);
                    f.fail(Op::kSyncDir, kJournal, EIO);
                  }},
        // A new segment cannot be created: 1,200 records of ~100 bytes cross the 64 KiB mark.
        FaultCase{"journal_segment_create_enospc", "journal",
                  [](FaultEnv& f) { f.fail(Op::kOpen, kJournal, ENOSPC); }, 1200},
        // SQLite sees SQLITE_FULL (ENOSPC), SQLITE_IOERR_WRITE / _TRUNCATE and SQLITE_IOERR_FSYNC.
        FaultCase{"outbox_append_full", "outbox",
                  [](FaultEnv& f) {
                    f.fail(Op::kWrite, kOutbox, ENOSPC);
                    f.fail(Op::kTruncate, kOutbox, ENOSPC);
                  }},
        FaultCase{"outbox_append_ioerr", "outbox",
                  [](FaultEnv& f) {
                    f.fail(Op::kWrite, kOutbox, EIO);
                    f.fail(Op::kTruncate, kOutbox, EIO);
                  }},
        FaultCase{"outbox_fsync_ioerr", "outbox",
                  [](FaultEnv& f) { f.fail(Op::kSync, kOutbox, EIO); }}),
    [](const ::testing::TestParamInfo<FaultCase>& info) { return info.param.name; });

}  // namespace
}  // namespace edgesketch::agent
