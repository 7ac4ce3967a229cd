// The collector (CollectorApp, in process) behind a real mosquitto, seen from an agent: a window
// batch published on <prefix>/<tenant>/<gateway>/windows is acked on .../ack only once the
// store's WAL fsync has returned. The store writes through a FaultEnv, so a test can hold that
// fsync (a hung disk) or make it fail, and see what the agent would see. Also SIGHUP's gateway
// reload, the health the watchdog goes by and the final flush at stop().
#include "app/collector_app.h"

#include <gtest/gtest.h>
#include <mqtt/async_client.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "collector/store_test_util.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "edgesketch/wire/codec.h"
#include "support/eventually.h"
#include "support/fault_env.h"
#include "support/metrics_text.h"

namespace edgesketch::collector {
namespace {

using edgesketch::testing::FaultEnv;
using store::testing::kNowMs;
using store::testing::TempDir;
using test_support::eventually;
using testbed::MosquittoBroker;

constexpr int kWaitMs = 10'000;
constexpr auto kWait = std::chrono::milliseconds(kWaitMs);

// One ack as the agent received it, with what the test had done by then.
struct ReceivedAck {
  std::string topic;
  wire::Ack ack;
  bool after_release = false;  // the held fsync had been let go before it arrived
};

// The agent's side of the protocol: publishes batches at QoS 1 and collects the acks of its
// gateways. Its own Paho client, clean session.
class AgentSide {
 public:
  explicit AgentSide(const std::string& uri)
      : client_(uri, "collector-app-test-agent", mqtt::create_options(MQTTVERSION_3_1_1)) {
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      const std::string& p = m->get_payload();
      auto ack = wire::decode_ack(
          ByteSpan(reinterpret_cast<const std::uint8_t*>(p.data()), p.size()), wire::Limits{});
      EXPECT_TRUE(ack.ok()) << ack.status().to_string();
      std::lock_guard lock(mu_);
      if (ack.ok()) acks_.push_back(ReceivedAck{m->get_topic(), *ack, released_.load()});
      cv_.notify_all();
    });
  }
  ~AgentSide() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait();
    } catch (const std::exception&) {
    }
  }

  void connect() {
    mqtt::connect_options opts;
    opts.set_clean_session(true);
    ASSERT_TRUE(client_.connect(opts)->wait_for(kWait));
    ASSERT_TRUE(client_.subscribe("edgesketch/v1/+/+/ack", 1)->wait_for(kWait));
  }
  // Publishes and waits for the broker's PUBACK (not the collector's ack).
  void publish(const std::string& tenant, const std::string& gateway, const Bytes& batch) {
    auto msg = mqtt::make_message("edgesketch/v1/" + tenant + "/" + gateway + "/windows",
                                  batch.data(), batch.size(), 1, false);
    ASSERT_TRUE(client_.publish(msg)->wait_for(kWait));
  }
  // Marks the acks that arrive from now on as after_release.
  void mark_release() { released_.store(true); }

  // The acks received so far once `done` holds for them; fails after 10 s.
  std::vector<ReceivedAck> wait(const std::function<bool(const std::vector<ReceivedAck>&)>& done) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, kWait, [&] { return done(acks_); }));
    return acks_;
  }
  std::vector<ReceivedAck> received() {
    std::lock_guard lock(mu_);
    return acks_;
  }

 private:
  mqtt::async_client client_;
  std::atomic<bool> released_{false};
  std::mutex mu_;  // guards acks_
  std::condition_variable cv_;
  std::vector<ReceivedAck> acks_;
};

// Whether any of `acks` acks `seq` as stored.
bool acks_seq(const std::vector<ReceivedAck>& acks, std::uint64_t seq) {
  for (const ReceivedAck& a : acks) {
    for (std::uint64_t s : a.ack.seqs) {
      if (s == seq) return true;
    }
  }
  return false;
}

class CollectorAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.start().ok());
    agent_ = std::make_unique<AgentSide>(broker_.uri());
  }
  void TearDown() override {
    faults_.heal();  // nothing stays blocked in a hold
    app_.reset();
  }

  std::string config_text(const std::string& gateways = "") const {
    return "[collector]\ndata_dir = \"" + dir_.path() + "\"\nretained_memory_bytes = 0\n" +
           "[mqtt]\nbroker = \"" + broker_.uri() + "\"\nclient_id = \"collector-app-test\"\n" +
           "[http]\nlisten = \"127.0.0.1:0\"\n" +
           "[[tenant]]\nname = \"acme\"\ntokens = [\"acme-read-token-0123456789\"]\n" + gateways;
  }

  void start(const std::string& gateways = "") {
    auto config = parse_collector_config(config_text(gateways), "collector-app-test");
    ASSERT_TRUE(config.ok()) << config.status().to_string();
    config->store.stall_retry_ms = 0;  // a healed store resumes at the next batch
    config->store.background_merge = false;
    CollectorDeps deps;
    deps.env = &faults_;
    deps.clock = &clock_;
    auto app = CollectorApp::create(std::move(*config), deps);
    ASSERT_TRUE(app.ok()) << app.status().to_string();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->start().ok());
    ASSERT_TRUE(eventually([&] { return m("edgesketch_collector_mqtt_connected") == 1; }, kWaitMs,
                           /*poll_ms=*/10))
        << app_->render_metrics();
    agent_->connect();
  }

  double m(const std::string& prefix) const {
    return test_support::metric_sum(app_->render_metrics(), prefix);
  }

  Bytes batch(const std::string& gateway, std::uint64_t seq) {
    return wire::encode_window_batch(store::testing::make_batch(rng_, gateway, seq, 6, 3, 10));
  }

  // Publishes seq 1 of gw-1 and waits for its ack: the write path works end to end.
  void first_batch_acked() {
    agent_->publish("acme", "gw-1", batch("gw-1", 1));
    agent_->wait([](const auto& acks) { return acks_seq(acks, 1); });
  }

  TempDir dir_;
  MosquittoBroker broker_;
  FaultEnv faults_;  // outlives app_
  FakeClock clock_{kNowMs};
  std::mt19937_64 rng_{7};
  std::unique_ptr<AgentSide> agent_;
  std::unique_ptr<CollectorApp> app_;
};

// While the WAL's fsync hangs, a batch is applied but not acked; its ack comes once the fsync
// returns, never before.
TEST_F(CollectorAppTest, TheAckWaitsForTheWalFsync) {
  start();
  first_batch_acked();
  faults_.hold(FaultEnv::Op::kSync, "/wal/");
  agent_->publish("acme", "gw-1", batch("gw-1", 2));
  // The WAL's sync thread is inside the fsync of the group holding seq 2.
  ASSERT_TRUE(faults_.wait_held(1, kWait));
  ASSERT_TRUE(eventually(
      [&] { return m("edgesketch_collector_ingest_batches_total{outcome=\"applied\"}") == 2; },
      kWaitMs, /*poll_ms=*/10));
  // Another batch goes the whole way through the broker and the collector meanwhile (time for
  // an ack of seq 2 published too early to arrive); it waits for the next fsync.
  agent_->publish("acme", "gw-1", batch("gw-1", 3));
  ASSERT_TRUE(eventually(
      [&] { return m("edgesketch_collector_ingest_batches_total{outcome=\"applied\"}") == 3; },
      kWaitMs, /*poll_ms=*/10));
  EXPECT_FALSE(acks_seq(agent_->received(), 2));
  EXPECT_FALSE(acks_seq(agent_->received(), 3));
  EXPECT_EQ(m("edgesketch_collector_acks_published_total"), 1);

  agent_->mark_release();
  faults_.release();
  const auto acks = agent_->wait([](const auto& a) { return acks_seq(a, 2) && acks_seq(a, 3); });
  for (const ReceivedAck& a : acks) {
    if (acks_seq({a}, 2) || acks_seq({a}, 3)) {
      EXPECT_TRUE(a.after_release) << "acked before its fsync returned";
    }
  }
  EXPECT_EQ(m("edgesketch_collector_wal_errors_total"), 0);
}

// A failed WAL fsync: the batch is not acked (the agent resends it after its timeout), nothing
// is rejected; once the disk works again the resend is stored and acked.
TEST_F(CollectorAppTest, AFailedWalFsyncIsNotAckedAndTheResendIsOnceTheDiskHeals) {
  start();
  first_batch_acked();
  const Bytes two = batch("gw-1", 2);
  faults_.fail(FaultEnv::Op::kSync, "/wal/", EIO);
  agent_->publish("acme", "gw-1", two);
  // The ack thread has seen the fsync fail and decided for seq 2.
  ASSERT_TRUE(eventually([&] { return m("edgesketch_collector_wal_errors_total") == 1; }, kWaitMs,
                         /*poll_ms=*/10))
      << app_->render_metrics();
  faults_.heal();
  // Acks travel in order: had seq 2 been acked, that ack would arrive before seq 3's.
  agent_->publish("acme", "gw-1", batch("gw-1", 3));
  auto acks = agent_->wait([](const auto& a) { return acks_seq(a, 3); });
  EXPECT_FALSE(acks_seq(acks, 2));
  for (const ReceivedAck& a : acks) EXPECT_TRUE(a.ack.rejected.empty());

  agent_->publish("acme", "gw-1", two);  // the agent's resend
  acks = agent_->wait([](const auto& a) { return acks_seq(a, 2); });
  int acked_two = 0;
  for (const ReceivedAck& a : acks) {
    for (std::uint64_t s : a.ack.seqs) acked_two += s == 2;
    EXPECT_TRUE(a.ack.rejected.empty());
  }
  EXPECT_EQ(acked_two, 1);
  EXPECT_TRUE(eventually([&] { return m("edgesketch_collector_store_batches_total") == 3; },
                         kWaitMs, /*poll_ms=*/10))
      << app_->render_metrics();
  EXPECT_EQ(m("edgesketch_collector_ingest_rejected_total"), 0);
}

// SIGHUP: the gateways of the fresh config are in effect at once (MQTT and the metrics); a config
// that did not load changes nothing and is counted.
TEST_F(CollectorAppTest, ReloadPutsTheFreshGatewaysInEffect) {
  const std::string gw1 =
      "[[gateway]]\nid = \"gw-1\"\ntenant = \"acme\"\ntoken = \"gw-1-token-0123456789\"\n";
  const std::string gw2 =
      "[[gateway]]\nid = \"gw-2\"\ntenant = \"acme\"\ntoken = \"gw-2-token-0123456789\"\n";
  start(gw1);
  EXPECT_EQ(m("edgesketch_collector_gateways"), 1);
  agent_->publish("acme", "gw-2", batch("gw-2", 1));
  auto acks = agent_->wait([](const auto& a) { return !a.empty(); });
  ASSERT_EQ(acks.size(), 1u);
  ASSERT_EQ(acks[0].ack.rejected.size(), 1u);
  EXPECT_EQ(acks[0].ack.rejected[0].reason, "unknown_gateway");

  auto fresh = parse_collector_config(config_text(gw2), "reloaded");
  ASSERT_TRUE(fresh.ok()) << fresh.status().to_string();
  app_->reload_gateways(*fresh);
  app_->reload_rejected();
  EXPECT_EQ(m("edgesketch_collector_gateways"), 1);
  EXPECT_EQ(m("edgesketch_collector_config_reloads_total{result=\"applied\"}"), 1);
  EXPECT_EQ(m("edgesketch_collector_config_reloads_total{result=\"rejected\"}"), 1);
  agent_->publish("acme", "gw-2", batch("gw-2", 2));
  agent_->publish("acme", "gw-1", batch("gw-1", 1));
  acks = agent_->wait([](const auto& a) { return a.size() >= 3; });
  ASSERT_EQ(acks.size(), 3u);
  for (std::size_t i = 1; i < 3; ++i) {  // one round may ack both, in either order
    if (acks[i].topic == "edgesketch/v1/acme/gw-2/ack") {
      EXPECT_EQ(acks[i].ack.seqs, (std::vector<std::uint64_t>{2}));
      EXPECT_TRUE(acks[i].ack.rejected.empty());
    } else {
      EXPECT_EQ(acks[i].topic, "edgesketch/v1/acme/gw-1/ack");
      EXPECT_TRUE(acks[i].ack.seqs.empty());
      ASSERT_EQ(acks[i].ack.rejected.size(), 1u);
      EXPECT_EQ(acks[i].ack.rejected[0].reason, "unknown_gateway");
    }
  }
  EXPECT_NE(acks[1].topic, acks[2].topic);
}

// The periodic flush runs on its own thread; one that does not return (a hung disk under the
// parts) turns healthy() false after 30 s of the clock, so the main loop stops petting the
// watchdog, and true again once it returns.
TEST_F(CollectorAppTest, APeriodicFlushThatHangsMakesTheCollectorUnhealthy) {
  start();
  first_batch_acked();
  faults_.hold(FaultEnv::Op::kSync, "/parts/");
  clock_.advance_ms(300'000);  // [store] flush_interval: the flush is due
  ASSERT_TRUE(faults_.wait_held(1, kWait));
  EXPECT_TRUE(app_->healthy());
  clock_.advance_ms(29'999);
  EXPECT_TRUE(app_->healthy());
  clock_.advance_ms(1);
  EXPECT_FALSE(app_->healthy());
  faults_.release();
  EXPECT_TRUE(eventually([&] { return app_->healthy(); }, kWaitMs, /*poll_ms=*/10));
  EXPECT_TRUE(eventually([&] { return m("edgesketch_collector_flushes_total") == 1; }, kWaitMs,
                         /*poll_ms=*/10));
}

// stop() flushes the memtable into parts, and a new start finds the data there.
TEST_F(CollectorAppTest, StopFlushesTheMemtable) {
  start();
  first_batch_acked();
  EXPECT_TRUE(app_->healthy());
  ASSERT_TRUE(
      eventually([&] { return m("edgesketch_collector_series") > 0; }, kWaitMs, /*poll_ms=*/10));
  const double series = m("edgesketch_collector_series");
  EXPECT_EQ(m("edgesketch_collector_flushes_total"), 0);
  app_->stop();
  EXPECT_TRUE(eventually([&] { return m("edgesketch_collector_flushes_total") == 1; }, kWaitMs,
                         /*poll_ms=*/10));
  EXPECT_GT(m("edgesketch_collector_parts"), 0);
  app_.reset();

  auto config = parse_collector_config(config_text(), "restart");
  ASSERT_TRUE(config.ok());
  config->mqtt.enabled = false;
  auto again = CollectorApp::create(std::move(*config), CollectorDeps{.clock = &clock_});
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  const std::string metrics = (*again)->render_metrics();
  EXPECT_EQ(test_support::metric_sum(metrics, "edgesketch_collector_series"), series);
  EXPECT_GT(test_support::metric_sum(metrics, "edgesketch_collector_parts"), 0);
}

}  // namespace
}  // namespace edgesketch::collector
