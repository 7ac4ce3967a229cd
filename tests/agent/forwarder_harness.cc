// Shared forwarder test harness (see forwarder_harness.h).
#include "agent/forwarder_harness.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "edgesketch/testbed/mosquitto_broker.h"

namespace edgesketch::agent::testing {

namespace fs = std::filesystem;
using test_support::AckDouble;
using test_support::AckDoubleOptions;
using testbed::MosquittoBroker;

wire::WindowBatch BatchMaker::make(int i) {
  if (base_ms_ == 0) {
    std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    base_ms_ = (now - 3'600'000) / 10'000 * 10'000;  // an hour ago, window-aligned
  }
  std::mt19937_64 rng(1000 + static_cast<std::uint64_t>(i));
  std::uniform_real_distribution<double> value(-20.0, 40.0);
  sketch::AggregateSpec spec;
  spec.quantiles = true;
  wire::WindowBatch b;
  b.tenant = kTenant;
  b.gateway_id = kGateway;
  for (int d = 0; d < 3; ++d) {
    wire::WindowRecord r;
    r.key.metric = "temperature";
    r.key.tags = {{"device", "d" + std::to_string(d)}};
    r.window_start_ms = base_ms_ + static_cast<std::int64_t>(i) * 10'000;
    r.window_ms = 10'000;
    r.agg = sketch::WindowAggregate(spec);
    ExpectedWindow& e =
        expected_[{kTenant, test_support::series_name(r.key), r.window_start_ms, r.window_ms}];
    int n = 5 + i % 7;
    for (int k = 0; k < n; ++k) {
      double v = value(rng);
      r.agg.add_value(v);
      e.min = e.count == 0 ? v : std::min(e.min, v);
      e.max = e.count == 0 ? v : std::max(e.max, v);
      e.sum += v;
      ++e.count;
    }
    b.records.push_back(std::move(r));
  }
  return b;
}

OutboxOptions outbox_options(const std::string& path, std::int64_t resend_after_ms) {
  OutboxOptions o;
  o.path = path;
  o.resend_after_ms = resend_after_ms;
  return o;
}

ForwarderOptions forwarder_options(const std::string& broker_uri, std::int64_t ack_timeout_ms) {
  ForwarderOptions o;
  o.tenant = kTenant;
  o.gateway_id = kGateway;
  o.mqtt.uri = broker_uri;
  o.mqtt.client_id = "forwarder-test-" + std::to_string(::getpid());
  o.mqtt.backoff.min_ms = 200;
  o.mqtt.backoff.max_ms = 1000;
  o.mqtt.backoff.seed = 42;
  o.mqtt.connect_timeout_ms = 2000;
  o.ack_timeout_ms = ack_timeout_ms;
  o.backlog_batches_per_s = 0;  // no cap unless a test sets one
  o.idle_poll_ms = 50;
  return o;
}

std::uint64_t outbox_rows(Outbox& outbox) {
  Result<OutboxStats> s = outbox.stats();
  return s.ok() ? s->rows : ~std::uint64_t{0};
}

std::string compare_windows(
    const std::map<test_support::WindowKey, ExpectedWindow>& expected,
    const std::map<test_support::WindowKey, test_support::CommittedWindow>& got) {
  if (expected.size() != got.size()) {
    return "expected " + std::to_string(expected.size()) + " windows, got " +
           std::to_string(got.size());
  }
  for (const auto& [key, e] : expected) {
    auto it = got.find(key);
    std::string name = key.series + "@" + std::to_string(key.window_start_ms);
    if (it == got.end()) return "missing window " + name;
    const sketch::WindowAggregate& a = it->second.agg;
    if (a.count() != e.count) {
      return name + ": count " + std::to_string(a.count()) + " != " + std::to_string(e.count);
    }
    if (a.min() != e.min || a.max() != e.max) return name + ": min/max differ";
    if (std::abs(a.sum() - e.sum) > 1e-9 * std::max(1.0, std::abs(e.sum))) {
      return name + ": sum differs";
    }
  }
  return "";
}

void run_outage_scenario(int outage_s) {
  TempDir dir;
  MosquittoBroker broker;
  ASSERT_TRUE(broker.start().ok());
  AckDoubleOptions ao;
  ao.uri = broker.uri();
  ao.client_id = "ack-double-outage-" + std::to_string(::getpid());
  AckDouble ack(ao);
  ASSERT_TRUE(ack.start().ok());

  constexpr std::int64_t kAckTimeoutMs = 3000;
  auto outbox = Outbox::open(outbox_options(dir.file("outbox.db"), kAckTimeoutMs));
  ASSERT_TRUE(outbox.ok()) << outbox.status().to_string();
  auto fwd = Forwarder::create(forwarder_options(broker.uri(), kAckTimeoutMs), outbox->get());
  ASSERT_TRUE(fwd.ok()) << fwd.status().to_string();
  Forwarder& f = **fwd;
  f.start();

  BatchMaker maker;
  int appended = 0;
  auto append = [&] {
    auto seq = (*outbox)->append(maker.make(appended), 0);
    ASSERT_TRUE(seq.ok()) << seq.status().to_string();
    ++appended;
    f.wake();
  };
  for (int i = 0; i < 10; ++i) append();
  ASSERT_TRUE(eventually([&] { return outbox_rows(**outbox) == 0; }, 15'000));

  ASSERT_TRUE(broker.stop().ok());
  auto outage_end = std::chrono::steady_clock::now() + std::chrono::seconds(outage_s);
  while (std::chrono::steady_clock::now() < outage_end) {
    append();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_EQ(f.stats().state, UplinkState::kDisconnected);
  EXPECT_GT(outbox_rows(**outbox), 0u);
  ASSERT_TRUE(broker.start().ok());
  for (int i = 0; i < 10; ++i) append();

  ASSERT_TRUE(eventually([&] { return outbox_rows(**outbox) == 0; }, 60'000))
      << outbox_rows(**outbox) << " rows left; " << ack.batches_committed() << " committed";
  EXPECT_EQ(ack.batches_committed(), static_cast<std::uint64_t>(appended));
  std::set<std::pair<std::string, std::uint64_t>> want;
  for (int i = 1; i <= appended; ++i) want.insert({kGateway, static_cast<std::uint64_t>(i)});
  EXPECT_EQ(ack.seqs(), want);
  EXPECT_EQ(compare_windows(maker.expected(), ack.windows()), "");
  ForwarderStats s = f.stats();
  EXPECT_EQ(s.state, UplinkState::kConnected);
  EXPECT_GE(s.reconnects, 1u);
  EXPECT_EQ(s.acked, static_cast<std::uint64_t>(appended));
  EXPECT_EQ(s.rejected, 0u);
  EXPECT_EQ(ack.merge_errors(), 0u);
  f.stop();
}

}  // namespace edgesketch::agent::testing
