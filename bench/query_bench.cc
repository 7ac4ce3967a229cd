// The `query` suite: Grafana-style panels over HTTP against the collector's query stack (store,
// StoreSeriesSource, QueryEngine, RangeQueryCache, HttpServer on 127.0.0.1), on 24 hours of
// 1,000 per-device vibration series (the standard fleet's sensor model at 100 Hz; 1-minute
// windows with count/sum/min/max and a quantile histogram).
//
// The panel is the two queries of a "vibration per site" panel, each a query_range over 24 h
// with step 60 s:
//   histogram_quantile(0.99, sum by (site) (vibration))
//   max by (site) (vibration_max)
//
//   panel_24h_1000s_ms_p50/p99  latency of one panel query, cache bypassed (a server without a
//                               result cache), sequential requests over one keep-alive connection
//   panel_cached_ms_p99         the same requests once the result cache holds them
//   cached_qps_16_clients       panel queries per second answered from the cache for 16 clients,
//                               each with its own connection and one request in flight (the
//                               cached server is configured so that one tenant may run 16
//                               queries at once; a refused request fails the bench)
//
// Two questions over the last hour of the same store, query_range with step 60 s, uncached:
//   series_query_ms_p50         one device's per-minute average, as a Grafana user writes it on
//                               the window views: vibration_sum{device="dev-0017"} /
//                               vibration_count{device="dev-0017"} (the catalog holds the whole
//                               fleet)
//   fleet_p99_uncached_ms_p50   the fleet's p99 per minute with no rollup:
//                               histogram_quantile(0.99, sum(vibration{device=~".+"})) (the
//                               matcher on `device` defeats the rollups, so the 1,000 device
//                               series are merged at query time)
//
// Label matching (the `label` part) on fleets of 50,000 and 1,000,000 series: 4 metrics per
// device (vibration, temperature, humidity, pressure) with tags device, line and site (50
// sites of 5 lines), one 1-minute window per series in the last hour, ingested through
// Store::submit in batches of 10,000 records (as agents' batches arrive) and flushed:
//
//   label_match_ms_50k, label_match_ms_1m
//       median latency of the two requests of a device's panel over HTTP (keep-alive):
//       /api/v1/query?query=vibration_count{device="d1"}[1h] (instant) and
//       /api/v1/series?match[]={device="d1"}
//   label_store_build_s_50k, label_store_build_s_1m   time to ingest and flush the fleet
//   label_match_rss_mb_1m                             peak resident memory after the 1M fleet
//   label_match_ms_1m_memtable, label_store_build_s_1m_memtable
//       the same with the fleet's windows left in the memtable (not flushed), as the last
//       minutes of a running collector are
//
// The `sse` part (stream_bench.cc): sse_200_streams_ingest_ratio and sse_200_streams_rss_ratio,
// the collector's ingest with 200 live streams open against none.
//
// The store is built with tiers 1 min and 1 h (agents configured with 1-minute windows), so the
// query reads the 1-minute tier exactly as it does under the default tiers (10 s, 1 min, 1 h):
// step 60 s picks the coarsest tier that divides it. The collector is configured as
// packaging/collector.toml ships it, with the label rollups "site" and "line,site"; the keys
// panel_*_ms are with them, panel_norollup_* the same panel on a store without rollups (every
// device's series merged at query time).
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/store_source.h"
#include "bench.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/http/http_server.h"
#include "edgesketch/query/query_engine.h"
#include "edgesketch/query/range_query_cache.h"
#include "edgesketch/store/store.h"
#include "edgesketch/testbed/temp_dir.h"
#include "edgesketch/wire/codec.h"
#include "es_device/names.h"
#include "es_device/sensor.h"

namespace edgesketch::bench {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kMinuteMs = 60'000;
// A UTC day boundary.
constexpr std::int64_t kStartMs = 1'700'000'000'000 / kDayMs * kDayMs;
constexpr std::size_t kRecordsPerBatch = 500;
// Distinct minute histograms per device (built from 6,000 samples each: 100 Hz for a minute);
// the rows of a series cycle through them, so a day of rows costs 16 minutes of sampling.
constexpr int kTemplatesPerDevice = 16;
constexpr int kSamplesPerMinute = 6'000;
const char* const kToken = "bench-token";

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "edgesketch-bench query: %s\n", what.c_str());
  std::exit(1);
}

// Submits the records gathered in `batch` as one batch of `gateway` (seqs 1, 2, ...), as an
// agent's uplink would; last_lsn is the WAL position of the newest.
struct BatchShipper {
  store::Store& st;
  std::string gateway;
  std::int64_t created_ms;
  wire::WindowBatch batch;
  std::uint64_t seq = 1;
  std::uint64_t last_lsn = 0;

  void ship() {
    if (batch.records.empty()) return;
    batch.gateway_id = gateway;
    batch.seq = seq++;
    batch.created_ms = created_ms;
    const Bytes bytes = wire::encode_window_batch(batch);
    auto r = st.submit("bench", batch, bytes);
    if (!r.ok()) fail("ingest: " + r.status().to_string());
    last_lsn = std::max(last_lsn, r->lsn);
    batch.records.clear();
  }
};

// Fills a store with `hours` of 1-minute vibration windows of `devices` devices.
void build_store(store::Store& st, FakeClock& clock, std::uint32_t devices, int hours) {
  sketch::AggregateSpec spec;
  spec.quantiles = true;
  std::vector<std::vector<wire::Tag>> tags(devices);
  std::vector<sketch::WindowAggregate> templates;
  templates.reserve(std::size_t{devices} * kTemplatesPerDevice);
  for (std::uint32_t d = 0; d < devices; ++d) {
    const std::uint32_t site = es_device_site_index(d, 10);
    es_sensor sensor;
    es_sensor_init(&sensor, ES_METRIC_VIBRATION, 20'231'114, d, site, 0.01, nullptr);
    for (int t = 0; t < kTemplatesPerDevice; ++t) {
      sketch::WindowAggregate agg(spec);
      for (int i = 0; i < kSamplesPerMinute; ++i) agg.add_value(es_sensor_sample(&sensor));
      templates.push_back(std::move(agg));
    }
    char id[ES_NAME_MAX], s[ES_NAME_MAX], l[ES_NAME_MAX];
    es_format_device_id(d, id, sizeof id);
    es_format_site(site, s, sizeof s);
    es_format_line(es_device_line_index(d, 10, 5), l, sizeof l);
    tags[d] = {{"device", id}, {"line", l}, {"site", s}};
  }

  BatchShipper out{st, "bench-gw", kStartMs, {}};
  const int minutes = hours * 60;
  for (int m = 0; m < minutes; ++m) {
    // Windows arrive as they close.
    clock.set_now_ms(kStartMs + (m + 1) * kMinuteMs + 5'000);
    for (std::uint32_t d = 0; d < devices; ++d) {
      wire::WindowRecord r;
      r.key.metric = "vibration";
      r.key.tags = tags[d];
      r.window_start_ms = kStartMs + m * kMinuteMs;
      r.window_ms = static_cast<std::uint32_t>(kMinuteMs);
      r.agg =
          templates[std::size_t{d} * kTemplatesPerDevice +
                    static_cast<std::size_t>((m * 7 + static_cast<int>(d)) % kTemplatesPerDevice)];
      out.batch.records.push_back(std::move(r));
      if (out.batch.records.size() == kRecordsPerBatch) out.ship();
    }
  }
  out.ship();
  if (auto s = st.flush(); !s.ok()) fail("flush: " + s.to_string());
  if (auto s = st.compact(/*full=*/true); !s.ok()) fail("compact: " + s.to_string());
}

// A Grafana-like client: one keep-alive connection, bearer token, query_range as GET, and (as
// Go's HTTP client) TCP_NODELAY and Accept-Encoding: gzip. With `decompress` false the body is
// taken as it arrives (the client's own decompression is not the collector's work).
class Client {
 public:
  explicit Client(int port, bool decompress = true) : cli_("127.0.0.1", port) {
    cli_.set_keep_alive(true);
    cli_.set_tcp_nodelay(true);
    cli_.set_decompress(decompress);
    cli_.set_read_timeout(60, 0);
    cli_.set_default_headers(
        {{"Authorization", std::string("Bearer ") + kToken}, {"Accept-Encoding", "gzip"}});
  }
  // Returns the response body; exits on a transport error or a non-200 status.
  std::string query_range(const std::string& query, std::int64_t start_ms, std::int64_t end_ms,
                          std::int64_t step_ms) {
    httplib::Params params{{"query", query},
                           {"start", std::to_string(start_ms / 1000)},
                           {"end", std::to_string(end_ms / 1000)},
                           {"step", std::to_string(step_ms / 1000)}};
    auto res = cli_.Get("/api/v1/query_range", params, httplib::Headers{});
    if (!res) fail("query_range: " + httplib::to_string(res.error()));
    if (res->status != 200)
      fail("query_range " + query + ": HTTP " + std::to_string(res->status) + ": " + res->body);
    return std::move(res->body);
  }

 private:
  httplib::Client cli_;
};

// Fills a store with one 1-minute window ending at `end_ms` for each of `series` series (a
// quarter per metric), through Store::submit as agents' batches arrive; with `flush` the
// memtable is then written into parts.
void build_label_fleet(store::Store& st, std::uint32_t series, std::int64_t end_ms, bool flush) {
  const char* const metrics[] = {"vibration", "temperature", "humidity", "pressure"};
  const std::uint32_t devices = series / 4;
  BatchShipper out{st, "bench-label", end_ms, {}};
  for (std::uint32_t d = 0; d < devices; ++d) {
    const std::uint32_t site = d % 50;
    const std::string device = "d" + std::to_string(d);
    const std::string site_name = "s" + std::to_string(site);
    const std::string line = "l" + std::to_string(site * 5 + (d / 50) % 5);
    for (const char* metric : metrics) {
      wire::WindowRecord r;
      r.key.metric = metric;
      r.key.tags = {{"device", device}, {"line", line}, {"site", site_name}};
      r.window_start_ms = end_ms - kMinuteMs;
      r.window_ms = static_cast<std::uint32_t>(kMinuteMs);
      r.agg.add_value(static_cast<double>(d % 97));
      out.batch.records.push_back(std::move(r));
    }
    if (out.batch.records.size() >= 10'000) out.ship();
  }
  out.ship();
  if (auto s = st.wait_durable(out.last_lsn); !s.ok()) fail("wait_durable: " + s.to_string());
  if (!flush) return;
  if (auto s = st.flush(); !s.ok()) fail("flush: " + s.to_string());
}

double peak_rss_mb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  double kb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmHWM:", 6) == 0) kb = std::atof(line + 6);
  }
  std::fclose(f);
  return kb / 1024;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// The store of both parts, in `dir`: tiers 1 min and 1 h, nothing expires, no background
// merges, and a memtable that only flush() empties; `so` adds what the part needs.
std::unique_ptr<store::Store> open_store(const testbed::TempDir& dir, Clock& clock,
                                         store::StoreOptions so) {
  if (dir.path().empty()) fail("cannot create a scratch directory: " + dir.error());
  so.clock = &clock;
  so.tiers_ms = {60'000, 3'600'000};
  so.retention_ms = {0, 0};
  so.background_merge = false;
  so.memtable_bytes = std::size_t{4} << 30;
  auto opened = store::Store::open(dir.path() + "/store", so);
  if (!opened.ok()) fail("open store: " + opened.status().to_string());
  return std::move(*opened);
}

// The HTTP API on a free port, answering the bench's token.
http::HttpServerOptions server_options() {
  http::HttpServerOptions ho;
  ho.port = 0;
  ho.tokens[kToken] = "bench";
  return ho;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The label part for one fleet size: the two requests, `rounds` times each, over one
// keep-alive connection; adds the keys with `suffix` ("50k", "1m") to `out`.
void run_label_bench(std::uint32_t series, const std::string& suffix, int rounds, bool flush,
                     nlohmann::json& out) {
  const std::int64_t end_ms = kStartMs + 3'600'000;
  FakeClock clock(end_ms);
  testbed::TempDir dir("es-query-bench");
  store::StoreOptions so;
  so.max_series_per_tenant = std::size_t{series} + 1;
  so.limits.max_payload_bytes = std::size_t{16} << 20;
  const std::unique_ptr<store::Store> opened = open_store(dir, clock, so);
  store::Store& st = *opened;
  const auto build_t0 = std::chrono::steady_clock::now();
  build_label_fleet(st, series, end_ms, flush);
  out["label_store_build_s_" + suffix] = ms_since(build_t0) / 1000;

  collector::StoreSeriesSource source(st);
  query::QueryEngine engine(source, query::EngineOptions{});
  http::HttpServerOptions ho = server_options();
  ho.default_limits.max_series_per_query = 1'000'000;
  http::HttpServer server(ho, engine, clock);
  if (auto s = server.start(); !s.ok()) fail(s.to_string());
  httplib::Client cli("127.0.0.1", server.port());
  cli.set_keep_alive(true);
  cli.set_tcp_nodelay(true);
  cli.set_read_timeout(120, 0);
  cli.set_default_headers({{"Authorization", std::string("Bearer ") + kToken}});
  const std::string query_path =
      "/api/v1/query?query=" +
      httplib::detail::encode_query_param("vibration_count{device=\"d1\"}[1h]") +
      "&time=" + std::to_string(end_ms / 1000);
  const std::string series_path =
      "/api/v1/series?match[]=" + httplib::detail::encode_query_param("{device=\"d1\"}");
  auto get = [&](const std::string& path) {
    auto res = cli.Get(path);
    if (!res) fail(path + ": " + httplib::to_string(res.error()));
    if (res->status != 200) fail(path + ": HTTP " + std::to_string(res->status) + ": " + res->body);
    return std::move(res->body);
  };
  // The answers: d1's vibration window, and d1's series under every visible name (4 metrics x 5).
  {
    const auto q = nlohmann::json::parse(get(query_path));
    const auto& result = q["data"]["result"];
    if (result.size() != 1 || result[0]["value"][1] != "1")
      fail("unexpected answer to the label query: " + q.dump().substr(0, 300));
    const auto sr = nlohmann::json::parse(get(series_path));
    if (sr["data"].size() != 20)
      fail("unexpected answer to the series request: " + sr.dump().substr(0, 300));
  }
  std::vector<double> lat;
  for (int i = 0; i < rounds; ++i) {
    for (const std::string* path : {&query_path, &series_path}) {
      const auto t0 = std::chrono::steady_clock::now();
      do_not_optimize(get(*path));
      lat.push_back(ms_since(t0));
    }
  }
  out["label_match_ms_" + suffix] = percentile(lat, 0.5);
  server.stop();
}

}  // namespace

nlohmann::json run_query_bench(const BenchOptions& options) {
  spdlog::set_level(spdlog::level::warn);
  use_collector_allocator();
  nlohmann::json out;
  // --only takes one part or several separated by commas ("series,fleet,panel").
  std::vector<std::string> parts;
  for (std::size_t from = 0; from < options.only.size();) {
    std::size_t to = options.only.find(',', from);
    if (to == std::string::npos) to = options.only.size();
    parts.push_back(options.only.substr(from, to - from));
    from = to + 1;
  }
  auto want = [&parts](const char* part) {
    return parts.empty() || std::find(parts.begin(), parts.end(), part) != parts.end();
  };
  if (want("sse")) {
    add_stream_figures(options, out);
    if (parts.size() == 1) return out;
  }
  if (want("label")) {
    const int rounds = options.quick ? 5 : std::max(25, options.repetitions * 3);
    run_label_bench(50'000, "50k", rounds, /*flush=*/true, out);
    if (!options.quick) {
      run_label_bench(1'000'000, "1m", rounds, /*flush=*/true, out);
      out["label_match_rss_mb_1m"] = peak_rss_mb();
      run_label_bench(1'000'000, "1m_memtable", rounds, /*flush=*/false, out);
    }
    if (parts.size() == 1) return out;
  }
  const std::uint32_t devices = options.quick ? 100 : 1'000;
  // ES_BENCH_QUERY_HOURS overrides the stored range (for profiling smaller runs).
  const char* hours_env = std::getenv("ES_BENCH_QUERY_HOURS");
  const int hours =
      hours_env != nullptr ? std::max(1, std::atoi(hours_env)) : (options.quick ? 2 : 24);
  const std::int64_t end_ms = kStartMs + hours * 3'600'000LL;
  // The collector starts an hour before the data (build_store moves the clock along).
  FakeClock clock(kStartMs - 3'600'000);

  testbed::TempDir dir("es-query-bench");
  store::StoreOptions so;
  so.limits.max_past_ms = 365 * kDayMs;
  so.rollups = {{"site"}, {"line", "site"}};
  // ES_BENCH_SCAN_THREADS and ES_BENCH_SCAN_DENSE_MB override the store's scan_threads and
  // scan_dense_bytes (to see their effect).
  if (const char* t = std::getenv("ES_BENCH_SCAN_THREADS")) {
    so.scan_threads = static_cast<std::size_t>(std::max(0, std::atoi(t)));
  }
  if (const char* d = std::getenv("ES_BENCH_SCAN_DENSE_MB"))
    so.scan_dense_bytes = std::size_t(std::atoi(d)) << 20;
  const std::unique_ptr<store::Store> opened = open_store(dir, clock, so);
  store::Store& st = *opened;
  const auto build_t0 = std::chrono::steady_clock::now();
  build_store(st, clock, devices, hours);
  clock.set_now_ms(end_ms + kMinuteMs);
  const double build_s = ms_since(build_t0) / 1000;

  collector::StoreSeriesSource source(st);
  query::QueryEngine engine(source, query::EngineOptions{});
  http::HttpServerOptions ho = server_options();
  ho.worker_threads = 16;
  http::HttpServer uncached(ho, engine, clock);
  query::RangeQueryCache cache(query::RangeQueryCacheOptions{}, clock);
  // The cached server serves 16 clients of one tenant at once: 16 query workers plus the
  // reserved ones, all of them the tenant's, and 16 concurrent queries.
  http::HttpServerOptions cached_ho = ho;
  cached_ho.worker_threads = 16 + cached_ho.reserved_workers;
  cached_ho.max_query_workers_per_tenant = 16;
  cached_ho.default_limits.max_concurrent_queries = 16;
  http::HttpServer cached(cached_ho, engine, clock, &cache);
  if (auto s = uncached.start(); !s.ok()) fail(s.to_string());
  if (auto s = cached.start(); !s.ok()) fail(s.to_string());

  const std::vector<std::string> panel = {
      "histogram_quantile(0.99, sum by (site) (vibration))",
      "max by (site) (vibration_max)",
  };
  const std::int64_t start_ms = kStartMs;
  const std::int64_t step_ms = kMinuteMs;

  // A sanity check that the panel returns what it should: one series per site, a point a minute.
  {
    Client c(uncached.port());
    for (const auto& q : panel) {
      const auto body = c.query_range(q, start_ms, end_ms, step_ms);
      const auto j = nlohmann::json::parse(body);
      const auto& result = j["data"]["result"];
      if (result.size() != 10 || result[0]["values"].size() < static_cast<std::size_t>(hours * 60))
        fail("unexpected answer to " + q + ": " + body.substr(0, 300));
    }
  }

  for (const std::string& p : parts) {
    if (p != "label" && p != "panel" && p != "norollup" && p != "cached" && p != "series" &&
        p != "fleet" && p != "sse") {
      out["query_error"] =
          "unknown part '" + p + "' (label, panel, norollup, series, fleet, cached, sse)";
      return out;
    }
  }
  out["query_series"] = devices;
  out["query_hours"] = hours;
  out["query_store_build_s"] = build_s;

  // Uncached: every request evaluates the whole range.
  if (want("panel")) {
    Client c(uncached.port());
    // 50 requests per query (quick: 10), so that the p99 of the 100 is not just the slowest.
    const int n = options.quick ? 10 : std::max(50, options.repetitions * 3);
    std::vector<double> all, hq, mx;
    for (int i = 0; i < n; ++i) {
      for (std::size_t k = 0; k < panel.size(); ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        do_not_optimize(c.query_range(panel[k], start_ms, end_ms, step_ms));
        const double ms = ms_since(t0);
        all.push_back(ms);
        (k == 0 ? hq : mx).push_back(ms);
      }
    }
    out["panel_24h_1000s_ms_p50"] = percentile(all, 0.5);
    out["panel_24h_1000s_ms_p99"] = percentile(all, 0.99);
    out["panel_quantile_ms_p50"] = percentile(hq, 0.5);
    out["panel_max_ms_p50"] = percentile(mx, 0.5);
  }
  if (want("norollup")) {
    Client c(uncached.port());
    // The same quantile panel without the rollup: a matcher on `device` makes the engine merge
    // every device's series at query time.
    std::vector<double> raw;
    for (int i = 0; i < std::max(2, options.repetitions / 2); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      do_not_optimize(
          c.query_range("histogram_quantile(0.99, sum by (site) (vibration{device=~\".+\"}))",
                        start_ms, end_ms, step_ms));
      raw.push_back(ms_since(t0));
    }
    out["panel_norollup_quantile_ms_p50"] = percentile(raw, 0.5);
  }

  // The last hour, step 60 s, uncached: `rounds` requests after one that checks the answer.
  const auto last_hour = [&](const std::string& query, const char* key, int rounds) {
    Client c(uncached.port());
    const std::int64_t from_ms = end_ms - 3'600'000;
    const auto j = nlohmann::json::parse(c.query_range(query, from_ms, end_ms, step_ms));
    const auto& result = j["data"]["result"];
    if (result.size() != 1 || result[0]["values"].size() < 60)
      fail("unexpected answer to " + query + ": " + j.dump().substr(0, 300));
    std::vector<double> lat;
    for (int i = 0; i < rounds; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      do_not_optimize(c.query_range(query, from_ms, end_ms, step_ms));
      lat.push_back(ms_since(t0));
    }
    out[key] = percentile(lat, 0.5);
  };
  if (want("series")) {
    last_hour("vibration_sum{device=\"dev-0017\"} / vibration_count{device=\"dev-0017\"}",
              "series_query_ms_p50", options.quick ? 20 : 200);
  }
  if (want("fleet")) {
    last_hour("histogram_quantile(0.99, sum(vibration{device=~\".+\"}))",
              "fleet_p99_uncached_ms_p50",
              options.quick ? 5 : std::max(20, options.repetitions * 3));
  }

  // Cached: the first request of each query fills the cache; its answer must be the uncached
  // one.
  if (want("cached")) {
    Client check_uncached(uncached.port()), check_cached(cached.port());
    for (const auto& q : panel) {
      const std::string a = check_cached.query_range(q, start_ms, end_ms, step_ms);
      const std::string b = check_uncached.query_range(q, start_ms, end_ms, step_ms);
      if (a != b) {
        std::size_t i = 0;
        while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
        const std::size_t from = i > 80 ? i - 80 : 0;
        fail("the cached answer to " + q + " differs from the uncached one at byte " +
             std::to_string(i) + ": ..." + a.substr(from, 160) + " vs ..." + b.substr(from, 160));
      }
    }
  }
  if (want("cached")) {
    Client c(cached.port(), /*decompress=*/false);
    const int n = options.quick ? 100 : 1'000;
    std::vector<double> lat;
    for (int i = 0; i < n; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      do_not_optimize(
          c.query_range(panel[static_cast<std::size_t>(i) % 2], start_ms, end_ms, step_ms));
      lat.push_back(ms_since(t0));
    }
    out["panel_cached_ms_p50"] = percentile(lat, 0.5);
    out["panel_cached_ms_p99"] = percentile(lat, 0.99);
  }
  if (want("cached")) {
    const int clients = 16;
    const double seconds = options.quick ? 0.5 : 3.0;
    std::atomic<bool> go{false}, stop{false};
    std::atomic<std::uint64_t> done{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
      threads.emplace_back([&, i] {
        Client c(cached.port(), /*decompress=*/false);
        std::uint64_t mine = 0;
        while (!go.load()) std::this_thread::yield();
        for (std::size_t k = static_cast<std::size_t>(i); !stop.load(std::memory_order_relaxed);
             ++k) {
          do_not_optimize(c.query_range(panel[k % 2], start_ms, end_ms, step_ms));
          ++mine;
        }
        done.fetch_add(mine);
      });
    }
    const auto t0 = std::chrono::steady_clock::now();
    go.store(true);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop.store(true);
    for (auto& t : threads) t.join();
    out["cached_qps_16_clients"] = static_cast<double>(done.load()) / (ms_since(t0) / 1000);
  }
  const auto cs = cache.stats();
  out["query_cache_hits"] = cs.hits;
  out["query_cache_misses"] = cs.misses;
  uncached.stop();
  cached.stop();
  return out;
}

}  // namespace edgesketch::bench
