// The `clickhouse` suite: the collector's ClickHouse store (docs/scaling.md) on a real server it
// starts on loopback (testbed::ClickHouseServer, Debian's clickhouse-server, its own temporary
// directory and ports). Without a server that starts, the suite says so
// (`clickhouse_skipped`) and measures nothing.
//
//   ch_ingest_rows_per_s       the standard fleet's window records (1,000 devices x 4 metrics,
//                              10 s windows with histograms, batches of 500) posted over HTTP to
//                              two collectors in process (CollectorApp with backend
//                              "clickhouse"), 16 gateways each posting its batches one after
//                              another, as gateways do; rows per second until every batch was
//                              answered 200, i.e. stored in ClickHouse
//   ch_panel_24h_1000s_ms_p50/p99  the fleet panel `histogram_quantile(0.99, sum by (site)
//                              (vibration))` over 24 h of 1-minute vibration windows of 1,000
//                              devices, query_range at 60 s over HTTP, uncached (the ClickHouse
//                              backend has no range query cache)
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/collector_app.h"
#include "bench.h"
#include "edgesketch/clickhouse/client.h"
#include "edgesketch/clickhouse/schema.h"
#include "edgesketch/testbed/clickhouse_server.h"
#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/temp_dir.h"
#include "fleet_windows.h"

namespace edgesketch::bench {
namespace {

constexpr char kReadToken[] = "bench-read-token-0123";
constexpr int kGateways = 32;  // gw-0 .. gw-31; even ones post to collector 0, odd ones to 1
constexpr std::int64_t kMinuteMs = 60'000;

std::string gateway_token(int i) { return "bench-gateway-token-" + std::to_string(i); }

collector::CollectorConfig collector_config(const testbed::ClickHouseServer& server,
                                            const std::string& data_dir) {
  collector::CollectorConfig c;
  c.data_dir = data_dir;
  c.mqtt.enabled = false;
  c.http_listen = "127.0.0.1:0";
  c.backend = collector::StoreBackend::kClickHouse;
  c.clickhouse.url = server.url();
  c.tenants.push_back(collector::TenantConfig{.name = "bench",
                                              .tokens = {kReadToken},
                                              .max_series_per_query = 100'000,
                                              .max_points_per_query = 100'000'000});
  for (int i = 0; i < kGateways; ++i) {
    c.gateways.push_back(collector::GatewayConfig{
        .id = "gw-" + std::to_string(i), .tenant = "bench", .token = gateway_token(i)});
  }
  c.store.limits.max_past_ms = std::int64_t{3650} * 86'400'000;  // the data is from 2023
  c.store.limits.max_records_per_batch = 100'000;
  return c;
}

// One minute-window aggregate of a device's vibration: six 10 s records of the standard fleet.
std::vector<sketch::WindowAggregate> minute_templates(std::uint32_t devices, int per_device) {
  Fleet fleet(devices);
  std::vector<sketch::WindowAggregate> out(std::size_t{devices} * per_device);
  std::uint64_t readings = 0;
  for (int t = 0; t < per_device; ++t) {
    for (int w = 0; w < 6; ++w) {
      auto recs = fleet.window((t * 6 + w) * std::int64_t{kWindowMs}, readings);
      for (auto& r : recs) {
        if (r.key.metric != "vibration") continue;
        const std::uint32_t d = static_cast<std::uint32_t>(&r - recs.data()) / 4;
        auto& agg = out[std::size_t{d} * per_device + t];
        if (w == 0) {
          agg = std::move(r.agg);
        } else {
          (void)agg.merge(r.agg);
        }
      }
    }
  }
  return out;
}

}  // namespace

nlohmann::json run_clickhouse_bench(const BenchOptions& options) {
  spdlog::set_level(spdlog::level::warn);
  nlohmann::json out;
  const std::string& only = options.only;
  if (!only.empty() && only != "ingest" && only != "panel") {
    out["clickhouse_error"] = "unknown part '" + only + "' (ingest, panel)";
    return out;
  }
  auto want = [&only](const char* part) { return only.empty() || only == part; };
  testbed::ClickHouseServer server;
  if (Status s = server.start(); !s.ok()) {
    out["clickhouse_skipped"] = "no ClickHouse server could be started: " + s.message();
    return out;
  }
  testbed::TempDir dir("es-clickhouse-bench");
  auto admin = clickhouse::Client::create({.url = server.url()});
  if (!admin.ok() || !clickhouse::init_schema(**admin, {}).ok()) {
    out["clickhouse_error"] = "cannot create the tables";
    return out;
  }
  std::vector<std::unique_ptr<collector::CollectorApp>> apps;
  for (int i = 0; i < 2; ++i) {
    auto app = collector::CollectorApp::create(
        collector_config(server, dir.file("collector-" + std::to_string(i))));
    if (!app.ok() || !(*app)->start().ok()) {
      out["clickhouse_error"] = app.ok() ? "a collector did not start" : app.status().message();
      return out;
    }
    apps.push_back(std::move(*app));
  }
  const std::int64_t start_ms = 1'700'000'000'000 / 86'400'000 * 86'400'000;  // midnight

  if (want("ingest")) {
    const int windows = options.quick ? 3 : 30;
    Fleet fleet(1000);
    std::vector<std::vector<EncodedBatch>> batches(kGateways);
    std::uint64_t readings = 0;
    std::vector<std::uint64_t> seq(kGateways, 1);
    std::size_t rows = 0;
    for (int w = 0; w < windows; ++w) {
      auto recs = fleet.window(start_ms + w * std::int64_t{kWindowMs}, readings);
      rows += recs.size();
      // Each gateway has its share of the devices (whole devices, 4 records each).
      std::vector<std::vector<wire::WindowRecord>> share(kGateways);
      for (std::size_t k = 0; k < recs.size(); ++k) {
        share[(k / 4) % kGateways].push_back(std::move(recs[k]));
      }
      for (int g = 0; g < kGateways; ++g) {
        append_batches(std::move(share[g]), "gw-" + std::to_string(g), seq[g], start_ms,
                       batches[g]);
      }
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    std::vector<int> failures(kGateways, 0);
    for (int g = 0; g < kGateways; ++g) {
      threads.emplace_back([&, g] {
        for (const EncodedBatch& b : batches[g]) {
          const testbed::HttpReply r =
              testbed::http_post(apps[g % 2]->http_port(), "/api/v1/ingest",
                                 std::string(b.bytes.begin(), b.bytes.end()),
                                 "application/x-protobuf", gateway_token(g));
          failures[g] += r.status != 200;
        }
      });
    }
    for (auto& t : threads) t.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out["ch_ingest_rows_per_s"] = std::round(static_cast<double>(rows) / s);
    out["ch_ingest_rows"] = rows;
    int failed = 0;
    for (int f : failures) failed += f;
    out["ch_ingest_failed_batches"] = failed;
  }

  if (want("panel")) {
    const std::uint32_t devices = 1000;
    const int minutes = options.quick ? 60 : 24 * 60;
    constexpr int kTemplates = 8;
    const auto templates = minute_templates(devices, kTemplates);
    std::vector<std::vector<wire::Tag>> tags(devices);
    {
      Fleet names(devices);
      std::uint64_t ignored = 0;
      auto recs = names.window(0, ignored);
      for (std::uint32_t d = 0; d < devices; ++d) tags[d] = recs[std::size_t{d} * 4].key.tags;
    }
    std::vector<wire::WindowRecord> recs;
    std::uint64_t seq = 1'000'000;
    std::vector<EncodedBatch> batches;
    for (int m = 0; m < minutes; ++m) {
      for (std::uint32_t d = 0; d < devices; ++d) {
        wire::WindowRecord r;
        r.key.metric = "vibration";
        r.key.tags = tags[d];
        r.window_start_ms = start_ms + m * kMinuteMs;
        r.window_ms = static_cast<std::uint32_t>(kMinuteMs);
        r.agg = templates[std::size_t{d} * kTemplates + (m * 7 + d) % kTemplates];
        recs.push_back(std::move(r));
      }
      if (recs.size() >= 20'000 || m + 1 == minutes) {
        append_batches(std::move(recs), "gw-0", seq, start_ms, batches);
        recs.clear();
        for (const EncodedBatch& b : batches) {
          (void)testbed::http_post(apps[0]->http_port(), "/api/v1/ingest",
                                   std::string(b.bytes.begin(), b.bytes.end()),
                                   "application/x-protobuf", gateway_token(0));
        }
        batches.clear();
      }
    }
    const std::string path =
        "/api/v1/query_range?query=" +
        testbed::url_encode("histogram_quantile(0.99, sum by (site) (vibration))") +
        "&start=" + std::to_string(start_ms / 1000 + 60) +
        "&end=" + std::to_string((start_ms + minutes * kMinuteMs) / 1000) + "&step=60";
    std::vector<double> ms;
    const int runs = options.quick ? 3 : std::max(5, options.repetitions);
    for (int r = 0; r < runs + 1; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      const testbed::HttpReply reply = testbed::http_get(apps[1]->http_port(), path, kReadToken);
      const double t =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (reply.status != 200) {
        out["clickhouse_error"] =
            "panel: HTTP " + std::to_string(reply.status) + ": " + reply.body.substr(0, 300);
        break;
      }
      if (r > 0) ms.push_back(t);  // the first run warms ClickHouse's caches
    }
    if (!ms.empty()) {
      std::sort(ms.begin(), ms.end());
      out["ch_panel_24h_1000s_ms_p50"] = median(ms);
      out["ch_panel_24h_1000s_ms_p99"] = ms.back();
    }
  }
  for (auto& a : apps) a->stop();
  return out;
}

}  // namespace edgesketch::bench
