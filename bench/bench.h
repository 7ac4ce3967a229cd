// The benchmark suites of edgesketch-bench and the timing helpers they share.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgesketch::bench {

struct BenchOptions {
  // Repetitions per measurement; the median is reported.
  int repetitions = 7;
  // Smaller workloads for a smoke run in the test suite (figures are then not acceptance figures).
  bool quick = false;
  // When non-empty, run only the named part of a suite (e.g. store: ingest, scan, recovery), to
  // profile one case; empty runs everything.
  std::string only;
};

// Each suite returns one flat JSON object of named figures.
nlohmann::json run_sketch_bench(const BenchOptions& options);
// firmware-sim: device encoder, generator, simulation loop and truth speed (sim_bench.cc).
nlohmann::json run_sim_bench(const BenchOptions& options);
// The collector store: ingest, bytes on disk, scan and recovery (store_bench.cc).
nlohmann::json run_store_bench(const BenchOptions& options);
// The agent's aggregator: throughput, memory for 10k series, uplink bytes (agent_bench.cc).
nlohmann::json run_agent_bench(const BenchOptions& options);
// The collector's query API over HTTP: panel latency and cached throughput (query_bench.cc).
nlohmann::json run_query_bench(const BenchOptions& options);
// Collectors over ClickHouse: ingest with two collectors, the fleet panel (clickhouse_bench.cc).
nlohmann::json run_clickhouse_bench(const BenchOptions& options);
// The malloc settings edgesketch-collector's main() makes (daemon::tune_allocator), for the
// suites that run the collector's code; ES_BENCH_DEFAULT_MALLOC=1 keeps glibc's defaults.
void use_collector_allocator();

// The parts of the sketch suite, one per sketch; each adds its keys to `out`.
void add_histogram_figures(const BenchOptions& options, nlohmann::json& out);
void add_hll_figures(const BenchOptions& options, nlohmann::json& out);
void add_topk_figures(const BenchOptions& options, nlohmann::json& out);
// Readings per second from edgesketch-sim through mosquitto into edgesketch-agent, the real
// processes on loopback (agent_mqtt_bench.cc; only when the test support is built).
void add_mqtt_e2e_figures(const BenchOptions& options, nlohmann::json& out);
// The same for the formats of other devices: multi-field line protocol (Telegraf) and
// Zigbee2MQTT-shaped json_fields (agent_mqtt_bench.cc).
void add_device_format_e2e_figures(const BenchOptions& options, nlohmann::json& out);
// The collector's ingest rate and memory with 200 live streams open against none, the real
// daemon on loopback (stream_bench.cc; the query suite's `sse` part).
void add_stream_figures(const BenchOptions& options, nlohmann::json& out);
// WindowBatch decode/encode speed of the wire codec (wire_bench.cc).
void add_wire_figures(const BenchOptions& options, nlohmann::json& out);

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Runs fn() `repetitions` times and returns the median wall time of one call in nanoseconds.
template <typename Fn>
double median_ns(int repetitions, Fn&& fn) {
  std::vector<double> t;
  t.reserve(static_cast<std::size_t>(repetitions));
  for (int r = 0; r < repetitions; ++r) {
    auto start = std::chrono::steady_clock::now();
    fn();
    auto end = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double, std::nano>(end - start).count());
  }
  return median(std::move(t));
}

// Keeps the optimizer from discarding a computed value.
template <typename T>
inline void do_not_optimize(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

}  // namespace edgesketch::bench
