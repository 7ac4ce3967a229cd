// Test helpers of the collector store tests.
#include "collector/store_test_util.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "edgesketch/sketch/hash.h"

namespace edgesketch::store::testing {

wire::WindowRecord make_record(std::mt19937_64& rng, const std::string& metric, int device,
                               std::int64_t window_start, std::uint32_t window_ms, int n,
                               bool sketches) {
  sketch::AggregateSpec spec;
  spec.quantiles = true;
  spec.distinct = sketches;
  spec.topk = sketches;
  wire::WindowRecord r;
  r.key.metric = metric;
  std::string dev = "dev-";
  dev.append(std::to_string(device));
  std::string site = "site-";
  site.append(std::to_string(device % 3));
  r.key.tags = {{"device", dev}, {"site", site}};
  r.window_start_ms = window_start;
  r.window_ms = window_ms;
  r.agg = sketch::WindowAggregate(spec);
  for (int i = 0; i < n; ++i) {
    r.agg.add_value(static_cast<double>(rng() % 1000));
    if (sketches) {
      std::string code = "E";
      code.append(std::to_string(rng() % 17));
      r.agg.add_distinct(sketch::hash_key(code, spec.hll.seed));
      r.agg.add_top(sketch::hash_key(code, spec.topk_options.seed), code);
    }
  }
  if (sketches) {
    r.distinct_of = "code";
    r.topk_of = "code";
  }
  return r;
}

wire::WindowBatch make_batch(std::mt19937_64& rng, const std::string& gateway, std::uint64_t seq,
                             int records, int devices, int windows, bool sketches) {
  wire::WindowBatch b;
  b.gateway_id = gateway;
  b.seq = seq;
  b.created_ms = kNowMs;
  const std::int64_t first = (kNowMs / 10'000 - windows) * 10'000;
  for (int i = 0; i < records; ++i) {
    const int device = static_cast<int>(rng() % static_cast<std::uint64_t>(devices));
    const std::int64_t ws = first + static_cast<std::int64_t>(rng() % windows) * 10'000;
    b.records.push_back(make_record(rng, "vibration", device, ws, 10'000,
                                    1 + static_cast<int>(rng() % 20), sketches));
  }
  return b;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::vector<std::string> find_files(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const std::string p = it->path().string();
    if (p.size() >= suffix.size() &&
        p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace edgesketch::store::testing
