// Two collectors (CollectorApp, in process) over one real ClickHouse server, as a fleet past one
// machine runs them: batches posted to either — some to both, as redeliveries — count once, both
// collectors give the same answers, and a ClickHouse outage holds batches back (503, never a
// rejection) until it is over.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "app/collector_app.h"
#include "collector/store_test_util.h"
#include "edgesketch/clickhouse/client.h"
#include "edgesketch/clickhouse/schema.h"
#include "edgesketch/testbed/clickhouse_server.h"
#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/temp_dir.h"
#include "edgesketch/wire/codec.h"
#include "support/metrics_text.h"

namespace edgesketch::collector {
namespace {

using store::testing::kNowMs;
using store::testing::make_batch;

constexpr char kReadToken[] = "read-token-0123456789";
constexpr char kGatewayToken[] = "gateway-token-0123456789";

class ClickHouseCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = server_.start();
    ASSERT_TRUE(s.ok()) << s.to_string();
    auto c = clickhouse::Client::create({.url = server_.url()});
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(clickhouse::init_schema(**c, {}).ok());
    for (int i = 0; i < 2; ++i) {
      auto app = CollectorApp::create(config(i));
      ASSERT_TRUE(app.ok()) << app.status().to_string();
      ASSERT_TRUE((*app)->start().ok());
      apps_.push_back(std::move(*app));
    }
  }
  void TearDown() override {
    for (auto& a : apps_) a->stop();
  }
  CollectorConfig config(int i) {
    CollectorConfig c;
    c.data_dir = dir_.file("collector-" + std::to_string(i));  // unused: the store is ClickHouse
    c.mqtt.enabled = false;
    c.http_listen = "127.0.0.1:0";
    c.backend = StoreBackend::kClickHouse;
    c.clickhouse.url = server_.url();
    c.clickhouse.max_attempts = 2;
    c.clickhouse.request_timeout_ms = 5'000;
    c.tenants.push_back(TenantConfig{.name = "t1", .tokens = {kReadToken}});
    c.gateways.push_back(GatewayConfig{.id = "gw-1", .tenant = "t1", .token = kGatewayToken});
    c.store.limits.max_past_ms = 3650LL * 86'400'000;  // the test batches are from 2023
    return c;
  }
  int post(int app, const wire::WindowBatch& b) {
    const Bytes body = wire::encode_window_batch(b);
    return testbed::http_post(apps_[app]->http_port(), "/api/v1/ingest",
                              std::string(body.begin(), body.end()), "application/x-protobuf",
                              kGatewayToken)
        .status;
  }
  std::string query(int app, const std::string& promql) {
    const std::string path = "/api/v1/query_range?query=" + testbed::url_encode(promql) +
                             "&start=" + std::to_string((kNowMs - 600'000) / 1000) +
                             "&end=" + std::to_string(kNowMs / 1000) + "&step=60";
    testbed::HttpReply r = testbed::http_get(apps_[app]->http_port(), path, kReadToken);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }

  testbed::ClickHouseServer server_{{.server = ES_CLICKHOUSE_SERVER}};
  testbed::TempDir dir_{"es-clickhouse-collector"};
  std::vector<std::unique_ptr<CollectorApp>> apps_;
};

TEST_F(ClickHouseCollectorTest, RedeliveriesCountOnceAndBothCollectorsAnswerAlike) {
  std::mt19937_64 rng(5);
  std::uint64_t readings = 0;
  for (std::uint64_t seq = 1; seq <= 10; ++seq) {
    wire::WindowBatch b = make_batch(rng, "gw-1", seq, 50, 8, 30, /*sketches=*/true);
    for (const auto& r : b.records) readings += r.agg.count();
    ASSERT_EQ(post(static_cast<int>(seq % 2), b), 200) << seq;
    if (seq % 3 == 0) {
      ASSERT_EQ(post(static_cast<int>((seq + 1) % 2), b), 200) << seq;  // to the other one too
    }
  }
  const std::string total = query(0, "sum(sum_over_time(vibration_count[10m]))");
  EXPECT_NE(total.find("\"" + std::to_string(readings) + "\""), std::string::npos)
      << readings << " readings; got " << total;
  for (const char* q : {"sum(vibration_count)", "max by (site) (vibration_max)",
                        "histogram_quantile(0.99, sum by (site) (vibration))",
                        "distinct_count(sum(vibration))", "topk_items(3, sum(vibration))",
                        "vibration_sum{device=\"dev-3\"} / vibration_count{device=\"dev-3\"}"}) {
    const std::string a = query(0, q);
    EXPECT_NE(a.find("\"result\":[{"), std::string::npos) << q << ": " << a;
    EXPECT_EQ(a, query(1, q)) << q;
  }
}

TEST_F(ClickHouseCollectorTest, AnOutageHoldsBatchesBackUntilItIsOver) {
  std::mt19937_64 rng(9);
  wire::WindowBatch first = make_batch(rng, "gw-1", 1, 20, 4, 10);
  wire::WindowBatch second = make_batch(rng, "gw-1", 2, 20, 4, 10);
  ASSERT_EQ(post(0, first), 200);
  server_.kill();
  EXPECT_EQ(post(0, second), 503);  // not acked, and not rejected: the agent resends it
  const std::string metrics = apps_[0]->render_metrics();
  EXPECT_EQ(test_support::metric_sum(metrics, "edgesketch_collector_ingest_deferred_total"), 1);
  EXPECT_EQ(test_support::metric_sum(metrics, "edgesketch_collector_clickhouse_up"), 0);
  EXPECT_EQ(test_support::metric_sum(metrics, "edgesketch_collector_ingest_rejected_total"), 0);
  ASSERT_TRUE(server_.start().ok());
  EXPECT_EQ(post(0, second), 200);  // the resend
  std::uint64_t readings = 0;
  for (const auto* b : {&first, &second}) {
    for (const auto& r : b->records) readings += r.agg.count();
  }
  const std::string total = query(1, "sum(sum_over_time(vibration_count[10m]))");
  EXPECT_NE(total.find("\"" + std::to_string(readings) + "\""), std::string::npos)
      << readings << " readings; got " << total;
}

}  // namespace
}  // namespace edgesketch::collector
