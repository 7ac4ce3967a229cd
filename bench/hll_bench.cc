// Figures of the HyperLogLog sketch for the sketch suite: add and merge speed, accuracy after
// merges, serialized sizes.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bench.h"
#include "edgesketch/sketch/hyperloglog.h"

namespace edgesketch::bench {
namespace {

using sketch::HllOptions;
using sketch::HyperLogLog;

std::string device_key(std::uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "device-%06llu", static_cast<unsigned long long>(i));
  return buf;
}

HyperLogLog sketch_of_keys(std::uint64_t begin, std::uint64_t end, HllOptions options = {}) {
  HyperLogLog h(options);
  for (std::uint64_t i = begin; i < end; ++i) h.add(device_key(i));
  return h;
}

// Short timed runs, many of them: on a shared machine the median then comes from runs that were
// not preempted.
int short_runs(const BenchOptions& options) { return options.repetitions * 9; }

// ns per add(key), hashing included, into a dense sketch; keys prepared in advance.
double add_ns(const BenchOptions& options) {
  const std::size_t num_keys = options.quick ? 1 << 14 : 1 << 16;
  std::vector<std::string> keys;
  keys.reserve(num_keys);
  for (std::size_t i = 0; i < num_keys; ++i) keys.push_back(device_key(i * 7919 % 1000000));
  HyperLogLog h = sketch_of_keys(0, 5000);  // dense regime
  const double ns = median_ns(short_runs(options), [&] {
    for (const std::string& k : keys) h.add(k);
  });
  do_not_optimize(h.estimate());
  return ns / static_cast<double>(num_keys);
}

// µs per merge_serialized of a dense 1e6-key sketch into a dense accumulator.
double merge_us(const BenchOptions& options) {
  const Bytes bytes = sketch_of_keys(0, options.quick ? 100000 : 1000000).serialize();
  HyperLogLog acc = sketch_of_keys(2000000, 2010000);
  const int merges = options.quick ? 20 : 200;
  bool ok = true;
  const double ns = median_ns(short_runs(options), [&] {
    for (int i = 0; i < merges; ++i) ok &= acc.merge_serialized(bytes).ok();
  });
  if (!ok) std::fprintf(stderr, "hll bench: merge_serialized failed\n");
  do_not_optimize(acc.estimate());
  return ns / merges / 1000.0;
}

// Mean |relative error| at 1e6 distinct keys split across 100 sketches and merged, one trial
// per hash seed.
double rel_err_1e6(const BenchOptions& options) {
  const int trials = options.quick ? 5 : 40;
  constexpr std::uint64_t kKeys = 1000000;
  constexpr std::uint64_t kParts = 100;
  std::vector<std::string> keys;
  keys.reserve(kKeys);
  for (std::uint64_t i = 0; i < kKeys; ++i) keys.push_back(device_key(i));
  double sum = 0;
  for (int t = 0; t < trials; ++t) {
    const HllOptions hll{.seed = 0x5eed0000u + static_cast<std::uint64_t>(t)};
    HyperLogLog merged(hll);
    for (std::uint64_t part = 0; part < kParts; ++part) {
      HyperLogLog h(hll);
      for (std::uint64_t i = part * kKeys / kParts; i < (part + 1) * kKeys / kParts; ++i) {
        h.add(keys[i]);
      }
      if (!merged.merge(h).ok()) std::fprintf(stderr, "hll bench: merge failed\n");
    }
    sum += std::abs(merged.estimate() / static_cast<double>(kKeys) - 1.0);
  }
  return sum / trials;
}

}  // namespace

void add_hll_figures(const BenchOptions& options, nlohmann::json& out) {
  out["hll_add_ns"] = add_ns(options);
  out["hll_merge_us"] = merge_us(options);
  out["hll_rel_err_1e6"] = rel_err_1e6(options);
  out["hll_bytes_1e2"] = sketch_of_keys(0, 100).serialize().size();
  out["hll_bytes_1e6"] = sketch_of_keys(0, 1000000).serialize().size();
}

}  // namespace edgesketch::bench
