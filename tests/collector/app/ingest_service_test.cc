// IngestService in process, with a real store: MQTT batch -> checks -> store -> WAL fsync -> ack,
// and POST /api/v1/ingest's path. Who may write (configured tenants and gateways, a gateway's
// own batches), what is refused for good (acked as rejected) and what is only deferred (a
// temporary fault: no ack, the agent resends, and the resend is stored once).
#include "ingest/ingest_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "collector/store_test_util.h"
#include "edgesketch/wire/codec.h"
#include "support/fault_env.h"

namespace edgesketch::collector {
namespace {

using store::testing::kNowMs;
using store::testing::TempDir;

struct AckLog {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, wire::Ack>> acks;  // topic, ack

  Status publish(const std::string& topic, ByteSpan payload) {
    auto ack = wire::decode_ack(payload, wire::Limits{});
    EXPECT_TRUE(ack.ok());
    std::lock_guard lock(mu);
    acks.emplace_back(topic, *ack);
    cv.notify_all();
    return Status();
  }
  // The acks' entries for `topic` once there are `n`; fails after 10 s.
  std::pair<std::vector<std::uint64_t>, std::vector<std::string>> wait(const std::string& topic,
                                                                       std::size_t n) {
    std::unique_lock lock(mu);
    std::pair<std::vector<std::uint64_t>, std::vector<std::string>> out;
    auto collect = [&] {
      out = {};
      for (const auto& [t, a] : acks) {
        if (t != topic) continue;
        out.first.insert(out.first.end(), a.seqs.begin(), a.seqs.end());
        for (const auto& r : a.rejected) out.second.push_back(r.reason);
      }
      return out.first.size() + out.second.size() >= n;
    };
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), collect)) << topic;
    return out;
  }
};

class IngestServiceTest : public ::testing::Test {
 protected:
  void open(store::StoreOptions o, IngestOptions io) {
    o.clock = &clock_;
    o.background_merge = false;
    auto s = store::Store::open(dir_.path(), o);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
    sink_ = std::make_unique<StoreBatchSink>(*store_);
    service_ = std::make_unique<IngestService>(
        *sink_, std::move(io),
        [this](const std::string& t, ByteSpan p) { return acks_.publish(t, p); }, metrics_,
        &clock_);
    service_->start();
  }
  void TearDown() override {
    if (service_) service_->stop();
  }
  Bytes batch(const std::string& gateway, std::uint64_t seq, int devices = 3) {
    auto b = store::testing::make_batch(rng_, gateway, seq, 6, devices, 10);
    return wire::encode_window_batch(b);
  }
  void send(const std::string& tenant, const std::string& gateway, const Bytes& b) {
    service_->on_message("edgesketch/v1/" + tenant + "/" + gateway + "/windows",
                         ByteSpan(b.data(), b.size()));
  }
  std::uint64_t counter(const std::string& name, const daemon::Labels& labels = {}) {
    return metrics_.counter(name, "", labels).value();
  }

  TempDir dir_;
  testing::FaultEnv env_;  // outlives the store, which may write through it
  FakeClock clock_{kNowMs};
  std::mt19937_64 rng_{11};
  daemon::MetricsRegistry metrics_;
  AckLog acks_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<StoreBatchSink> sink_;
  std::unique_ptr<IngestService> service_;
};

TEST_F(IngestServiceTest, OnlyConfiguredTenantsAndGatewaysAreStored) {
  IngestOptions io;
  io.tenants = {"acme", "small"};
  io.gateways = {{"acme", "gw-1"}, {"small", "gw-9"}};
  open(store::StoreOptions{}, io);
  send("acme", "gw-1", batch("gw-1", 1));
  send("acme", "gw-2", batch("gw-2", 1));   // not listed
  send("other", "gw-1", batch("gw-1", 1));  // tenant not configured
  send("small", "gw-1", batch("gw-1", 1));  // gw-1 is acme's
  auto ok = acks_.wait("edgesketch/v1/acme/gw-1/ack", 1);
  EXPECT_EQ(ok.first, (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(acks_.wait("edgesketch/v1/acme/gw-2/ack", 1).second,
            (std::vector<std::string>{"unknown_gateway"}));
  EXPECT_EQ(acks_.wait("edgesketch/v1/other/gw-1/ack", 1).second,
            (std::vector<std::string>{"unknown_tenant"}));
  EXPECT_EQ(acks_.wait("edgesketch/v1/small/gw-1/ack", 1).second,
            (std::vector<std::string>{"unknown_gateway"}));
  EXPECT_EQ(store_->stats().batches_applied, 1u);
  EXPECT_EQ(counter("edgesketch_collector_ingest_rejected_total", {{"reason", "unknown_gateway"}}),
            2u);
  EXPECT_EQ(counter("edgesketch_collector_ingest_rejected_total", {{"reason", "unknown_tenant"}}),
            1u);
}

TEST_F(IngestServiceTest, HttpIngestStoresOnlyTheTokensGatewaysBatches) {
  IngestOptions io;
  io.tenants = {"acme"};
  io.gateways = {{"acme", "gw-1"}};
  open(store::StoreOptions{}, io);
  const Bytes other = batch("gw-2", 5);
  Status s = service_->ingest_http("acme", "gw-1", ByteSpan(other.data(), other.size()));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.to_string();
  EXPECT_EQ(store_->stats().batches_applied, 0u);
  const Bytes own = batch("gw-1", 5);
  EXPECT_TRUE(service_->ingest_http("acme", "gw-1", ByteSpan(own.data(), own.size())).ok());
  EXPECT_EQ(store_->stats().batches_applied, 1u);
}

// The ledger refuses seqs no agent can have produced, so hostile history cannot make a real
// agent's later batches look like duplicates.
TEST_F(IngestServiceTest, ImplausibleSeqsAreRejectedAndTheRealAgentKeepsStoring) {
  open(store::StoreOptions{}, IngestOptions{});
  const std::uint64_t agent = std::uint64_t{1} << 40;
  send("acme", "gw", batch("gw", agent));
  send("acme", "gw", batch("gw", 0));
  for (std::uint64_t i = 0; i < 40; ++i) {
    send("acme", "gw", batch("gw", (std::uint64_t{1} << 63) + 2 * i));
  }
  for (std::uint64_t i = 1; i <= 18; ++i) send("acme", "gw", batch("gw", agent + i));
  auto got = acks_.wait("edgesketch/v1/acme/gw/ack", 60);
  EXPECT_EQ(got.first.size(), 19u);
  EXPECT_EQ(got.second.size(), 41u);
  for (const auto& r : got.second) EXPECT_EQ(r, "seq_out_of_range");
  EXPECT_EQ(store_->stats().batches_applied, 19u);
  EXPECT_EQ(store_->stats().batches_duplicate, 0u);
}

TEST_F(IngestServiceTest, SeriesLimitIsEachTenantsOwn) {
  store::StoreOptions o;
  o.max_series_per_tenant = 1000;
  o.max_series_by_tenant = {{"small", 10}, {"big", 1000}};
  open(o, IngestOptions{});
  for (std::uint64_t seq = 1; seq <= 20; ++seq) {
    const Bytes b = batch("gw", seq, 40);
    send("small", "gw", b);
    send("big", "gw", b);
  }
  auto small = acks_.wait("edgesketch/v1/small/gw/ack", 20);
  auto big = acks_.wait("edgesketch/v1/big/gw/ack", 20);
  EXPECT_EQ(big.first.size(), 20u);
  EXPECT_FALSE(small.second.empty());
  for (const auto& r : small.second) EXPECT_EQ(r, "series_limit");
  std::vector<store::LabelMatcher> none;
  EXPECT_LE(store_->select("small", none)->size(), 10u);
  EXPECT_GT(store_->select("big", none)->size(), 10u);
}

// A full disk under the catalog: the batch is neither stored nor acked (the agent resends), the
// stall shows; after the disk is freed the resend is stored and acked once.
TEST_F(IngestServiceTest, ATemporaryFaultIsNeverAckedAsARejection) {
  testing::FaultEnv& env = env_;
  store::StoreOptions o;
  o.env = &env;
  o.stall_retry_ms = 0;
  open(o, IngestOptions{});
  send("acme", "gw", batch("gw", 1));
  acks_.wait("edgesketch/v1/acme/gw/ack", 1);
  // The catalog's disk is full: a batch with new series is deferred, synchronously.
  env.fail(testing::FaultEnv::Op::kWrite, "catalog.db", ENOSPC);
  const Bytes two = batch("gw", 2, 30);
  send("acme", "gw", two);
  EXPECT_EQ(counter("edgesketch_collector_ingest_deferred_total"), 1u);
  EXPECT_EQ(store_->stats().stalled_catalog, 1u);
  // The WAL's fsync fails (the catalog works again): the batch is applied but never acked.
  env.heal();
  env.fail(testing::FaultEnv::Op::kSync, "/wal/", EIO);
  const Bytes three = batch("gw", 3);
  send("acme", "gw", three);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (counter("edgesketch_collector_wal_errors_total") == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(counter("edgesketch_collector_wal_errors_total"), 1u);
  EXPECT_EQ(counter("edgesketch_collector_ingest_rejected_total", {{"reason", "series_limit"}}),
            0u);
  env.heal();
  send("acme", "gw", two);
  send("acme", "gw", three);
  auto got = acks_.wait("edgesketch/v1/acme/gw/ack", 3);
  EXPECT_TRUE(got.second.empty()) << got.second.front();
  std::sort(got.first.begin(), got.first.end());
  EXPECT_EQ(got.first, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(store_->stats().batches_applied, 3u);
  EXPECT_EQ(store_->stats().stalled_wal + store_->stats().stalled_catalog, 0u);
}

}  // namespace
}  // namespace edgesketch::collector
