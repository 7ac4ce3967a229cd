// The `sse` part of the query suite: the collector's ingest rate and memory with 200 live
// streams (GET /api/v1/stream) open on loopback against none.
//
//   sse_200_streams_ingest_ratio  window records/s ingested with 200 streams open, over the rate
//                                 with none (target: at least 0.9)
//   sse_200_streams_rss_ratio     the collector's resident memory after the run with the
//                                 streams, over the run without (target: at most 1.1)
//   sse_ingest_records_per_s_0, sse_ingest_records_per_s_200, sse_rss_mb_0, sse_rss_mb_200,
//   sse_stream_events_200         the figures behind the ratios (events the streams received
//                                 while measured)
//
// edgesketch-collector runs as a child process as packaging/collector.toml configures it (its
// stream limits raised to 256 per tenant). Four gateways POST /api/v1/ingest batches of 100
// vibration windows (10 s, a histogram of 60 readings each) as fast as the collector answers,
// each answer coming after the WAL fsync; their windows' time runs at ten times real time, so
// every stream gets a new point each second (ten times what a 10 s step brings live). Each
// stream carries two queries, the fleet's readings and its p99 per site, as the page's panels.
// Each run is measured once the streams receive points (after the shipped stream_delay).
#include <httplib.h>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"
#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/sse_client.h"
#include "edgesketch/testbed/temp_dir.h"
#include "edgesketch/wire/codec.h"

namespace edgesketch::bench {
namespace {

constexpr int kGateways = 4;
constexpr int kDevicesPerGateway = 1'000;
constexpr std::size_t kRecordsPerBatch = 100;
constexpr std::int64_t kWindowMs = 10'000;
// Windows' time runs this many times faster than the wall clock.
constexpr int kSpeed = 10;
const char* const kReadToken = "bench-read-token-0123456789";
// The collector's [http] stream_delay as shipped.
constexpr std::int64_t kStreamDelayMs = 6'000;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "edgesketch-bench query (sse): %s\n", what.c_str());
  std::exit(1);
}

double rss_mb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024;
  }
  return 0;
}

struct PhaseResult {
  double records_per_s = 0;
  double rss_mb = 0;
  std::uint64_t events = 0;
};

// One run: a fresh collector, `streams` streams open, `seconds` of ingest.
PhaseResult run_phase(int streams, double seconds) {
  testbed::TempDir dir("es-sse-bench");
  if (dir.path().empty()) fail("no scratch directory: " + dir.error());
  const int port = testbed::free_port();
  std::string config =
      "[collector]\ndata_dir = \"" + dir.file("data") +
      "\"\n[mqtt]\nenabled = false\n[http]\nlisten = \"127.0.0.1:" + std::to_string(port) +
      "\"\nmax_streams = 256\nmax_streams_per_tenant = 256\n"
      "[[tenant]]\nname = \"bench\"\ntokens = [\"" +
      kReadToken + "\"]\n";
  for (int g = 0; g < kGateways; ++g) {
    config += "[[gateway]]\nid = \"gw-" + std::to_string(g) +
              "\"\ntenant = \"bench\"\ntoken = " + "\"bench-gateway-token-" + std::to_string(g) +
              "-0123456789\"\n";
  }
  std::ofstream(dir.file("collector.toml")) << config;
  testbed::DaemonProcess collector(ES_BENCH_COLLECTOR_BINARY,
                                   {"--config", dir.file("collector.toml")},
                                   dir.file("collector.log"));
  if (!collector.start()) fail("cannot start edgesketch-collector");
  for (int i = 0; testbed::http_get(port, "/-/ready").status != 200; ++i) {
    if (i > 200 || collector.exited()) fail("collector not ready: " + collector.log_tail());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // The windows' time: from an hour ago (aligned), at kSpeed times the wall clock.
  const std::int64_t wall0 = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  const std::int64_t base = (wall0 - 3'600'000) / kWindowMs * kWindowMs;
  const auto t0 = std::chrono::steady_clock::now();
  auto window_now = [&] {
    const auto real =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    return base + real * kSpeed / kWindowMs * kWindowMs;
  };

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> events{0};
  std::vector<std::unique_ptr<testbed::SseClient>> clients;
  const std::string path =
      "/api/v1/stream?step=10s&start=" + std::to_string(base / 1000) +
      "&query=" + testbed::url_encode("sum(vibration_count)") +
      "&query=" + testbed::url_encode("histogram_quantile(0.99, sum by (site) (vibration))");
  for (int i = 0; i < streams; ++i) {
    auto c = testbed::SseClient::open(port, path,
                                      {{"Authorization", std::string("Bearer ") + kReadToken}},
                                      std::chrono::seconds(10));
    if (!c || c->status() != 200) fail("stream refused: " + (c ? c->head() : std::string("")));
    clients.push_back(std::move(c));
  }
  std::vector<std::thread> readers;
  for (auto& c : clients) {
    readers.emplace_back([&, client = c.get()] {
      while (!stop.load()) {
        if (client->next(std::chrono::milliseconds(200))) events.fetch_add(1);
        if (client->ended()) fail("a stream ended during the run");
      }
    });
  }

  std::atomic<std::uint64_t> records{0};
  std::vector<std::thread> gateways;
  for (int g = 0; g < kGateways; ++g) {
    gateways.emplace_back([&, g] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      cli.set_read_timeout(60, 0);
      const std::string auth = "Bearer bench-gateway-token-" + std::to_string(g) + "-0123456789";
      sketch::AggregateSpec spec;
      spec.quantiles = true;
      std::uint64_t seq = 1;
      int device = 0;
      while (!stop.load()) {
        wire::WindowBatch batch;
        batch.gateway_id = "gw-" + std::to_string(g);
        batch.seq = seq++;
        batch.created_ms = wall0;
        const std::int64_t ws = window_now();
        for (std::size_t r = 0; r < kRecordsPerBatch;
             ++r, device = (device + 1) % kDevicesPerGateway) {
          wire::WindowRecord rec;
          rec.key.metric = "vibration";
          const int id = g * kDevicesPerGateway + device;
          rec.key.tags = {{"device", "dev-" + std::to_string(id)},
                          {"site", "site-" + std::to_string(id % 10)}};
          rec.window_start_ms = ws;
          rec.window_ms = static_cast<std::uint32_t>(kWindowMs);
          rec.agg = sketch::WindowAggregate(spec);
          for (int v = 0; v < 60; ++v) rec.agg.add_value(1.0 + (id * 7 + v * 13) % 97 * 0.1);
          batch.records.push_back(std::move(rec));
        }
        const Bytes bytes = wire::encode_window_batch(batch);
        auto res = cli.Post("/api/v1/ingest", httplib::Headers{{"Authorization", auth}},
                            reinterpret_cast<const char*>(bytes.data()), bytes.size(),
                            "application/octet-stream");
        if (!res || res->status != 200) {
          fail("ingest: " + (res ? std::to_string(res->status) + " " + res->body
                                 : httplib::to_string(res.error())));
        }
        records.fetch_add(kRecordsPerBatch);
      }
    });
  }
  // Measured once the streams get points: the first window's end plus the stream delay.
  std::this_thread::sleep_for(
      std::chrono::milliseconds(kWindowMs / kSpeed + kStreamDelayMs + 1'000));
  const std::uint64_t records0 = records.load();
  const std::uint64_t events0 = events.load();
  const auto m0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const std::uint64_t measured = records.load() - records0;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - m0).count();
  const std::uint64_t got = events.load() - events0;
  const double rss = rss_mb(collector.pid());
  stop.store(true);
  for (auto& t : gateways) t.join();
  for (auto& t : readers) t.join();
  clients.clear();
  collector.stop(SIGTERM, 30'000);
  if (streams > 0 && got == 0) fail("the streams got no event while measured");
  return PhaseResult{static_cast<double>(measured) / elapsed, rss, got};
}

}  // namespace

void add_stream_figures(const BenchOptions& options, nlohmann::json& out) {
  const double seconds = options.quick ? 3 : 10;
  const int rounds = options.quick ? 1 : 3;
  std::vector<double> rate0, rate200, rss0, rss200;
  std::uint64_t events = 0;
  for (int r = 0; r < rounds; ++r) {
    const PhaseResult none = run_phase(0, seconds);
    const PhaseResult with = run_phase(200, seconds);
    rate0.push_back(none.records_per_s);
    rate200.push_back(with.records_per_s);
    rss0.push_back(none.rss_mb);
    rss200.push_back(with.rss_mb);
    events += with.events;
  }
  out["sse_ingest_records_per_s_0"] = median(rate0);
  out["sse_ingest_records_per_s_200"] = median(rate200);
  out["sse_200_streams_ingest_ratio"] = median(rate200) / median(rate0);
  out["sse_rss_mb_0"] = median(rss0);
  out["sse_rss_mb_200"] = median(rss200);
  out["sse_200_streams_rss_ratio"] = median(rss200) / median(rss0);
  out["sse_stream_events_200"] = events;
}

}  // namespace edgesketch::bench
