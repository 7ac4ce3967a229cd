// edgesketch-bench: `edgesketch-bench <suite> [--json] [--quick] [--repetitions N] [--only PART]`.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "bench.h"

namespace {

using edgesketch::bench::BenchOptions;

struct Suite {
  const char* name;
  const char* what;
  nlohmann::json (*run)(const BenchOptions&);
};

constexpr Suite kSuites[] = {
    {"sketch", "sketch speed, size and accuracy (histogram, HyperLogLog, top-K)",
     edgesketch::bench::run_sketch_bench},
    {"sim", "firmware-sim: device encoder, generator, simulation loop and truth speed",
     edgesketch::bench::run_sim_bench},
    {"store",
     "collector store: ingest, bytes on disk, scan and recovery (standard and low-rate fleets)",
     edgesketch::bench::run_store_bench},
    {"agent", "agent aggregator: readings/s, RSS for 10k series, uplink bytes per reading",
     edgesketch::bench::run_agent_bench},
    {"query", "collector query API over HTTP: 24 h x 1,000 series panels, uncached and cached",
     edgesketch::bench::run_query_bench},
    {"clickhouse",
     "collectors over a ClickHouse server started on loopback: ingest with two, the fleet panel",
     edgesketch::bench::run_clickhouse_bench},
};

int usage(FILE* out) {
  std::fprintf(
      out,
      "usage: edgesketch-bench <suite> [--json] [--quick] [--repetitions N] [--only PART]\n"
      "  --only PART  run one part of a suite (store: ingest, scan, recovery, lowrate;\n"
      "               sketch: hist, hll, topk, wire;\n"
      "               agent: rss, throughput, where, uplink, parse, mqtt, formats;\n"
      "               query: label, series, fleet, panel, norollup, cached, sse, or several\n"
      "               of them separated by commas; clickhouse: ingest, panel)\n"
      "suites:\n");
  for (const auto& s : kSuites) std::fprintf(out, "  %-8s %s\n", s.name, s.what);
  return out == stderr ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(stderr);
  std::string_view suite_name = argv[1];
  if (suite_name == "--help" || suite_name == "-h") return usage(stdout);
  BenchOptions options;
  bool json = false;
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--quick") {
      options.quick = true;
    } else if (a == "--repetitions" && i + 1 < argc) {
      options.repetitions = std::atoi(argv[++i]);
      if (options.repetitions < 1) {
        std::fprintf(stderr, "edgesketch-bench: --repetitions must be >= 1\n");
        return 2;
      }
    } else if (a == "--only" && i + 1 < argc) {
      options.only = argv[++i];
    } else {
      std::fprintf(stderr, "edgesketch-bench: unknown argument '%s'\n", argv[i]);
      return usage(stderr);
    }
  }
  for (const auto& s : kSuites) {
    if (suite_name == s.name) {
      nlohmann::json result = s.run(options);
      if (json) {
        std::printf("%s\n", result.dump().c_str());
      } else {
        for (const auto& [key, value] : result.items()) {
          std::printf("%-28s %s\n", key.c_str(), value.dump().c_str());
        }
      }
      return 0;
    }
  }
  std::fprintf(stderr, "edgesketch-bench: unknown suite '%s'\n", argv[1]);
  return usage(stderr);
}
