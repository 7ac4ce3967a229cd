// Figures of the histogram sketch for the sketch suite: add and merge speed, serialized sizes,
// and quantile accuracy after 1,000-way merges of 10,000-value sketches.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string_view>
#include <vector>

#include "bench.h"
#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::bench {
namespace {

using sketch::ExpHistogram;

constexpr std::size_t kValuesPerSketch = 10'000;

using Draw = std::function<double(std::mt19937_64&)>;

double lognormal(std::mt19937_64& rng) { return std::lognormal_distribution<double>(0, 1)(rng); }

struct Distribution {
  const char* name;
  Draw draw;
};

// The workloads of hist_max_rel_err_merged.
std::vector<Distribution> distributions() {
  return {
      {"normal", [](std::mt19937_64& r) { return std::normal_distribution<double>(50, 10)(r); }},
      {"lognormal", lognormal},
      {"pareto",
       [](std::mt19937_64& r) {
         return std::pow(1.0 - std::uniform_real_distribution<double>(0, 1)(r), -1 / 1.5);
       }},
      {"bimodal",
       [](std::mt19937_64& r) {
         return std::bernoulli_distribution(0.3)(r) ? std::normal_distribution<double>(10, 1)(r)
                                                    : std::normal_distribution<double>(100, 5)(r);
       }},
      {"mixed_sign_zeros",
       [](std::mt19937_64& r) {
         const double u = std::uniform_real_distribution<double>(0, 1)(r);
         if (u < 0.2) return 0.0;
         const double m = std::lognormal_distribution<double>(0, 1.5)(r);
         return u < 0.6 ? -m : m;
       }},
  };
}

std::vector<double> draw_values(std::size_t n, std::uint64_t seed, const Draw& draw) {
  std::mt19937_64 rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = draw(rng);
  return v;
}

ExpHistogram sketch_of(const double* values, std::size_t n) {
  ExpHistogram h;
  for (std::size_t i = 0; i < n; ++i) h.add(values[i]);
  return h;
}

double relative_error(double estimate, double exact) {
  if (exact == 0) return estimate == 0 ? 0 : std::numeric_limits<double>::infinity();
  return std::fabs(estimate - exact) / std::fabs(exact);
}

// Merges `sketches` sketches of kValuesPerSketch values through the wire format and returns the
// largest relative error over p50..p99.9 against sorted[floor(φ(n-1))]. `merged_bytes` gets the
// serialized size of the merged sketch.
double merged_error(const Distribution& d, std::size_t sketches, std::uint64_t seed,
                    std::size_t& merged_bytes) {
  std::vector<double> values = draw_values(sketches * kValuesPerSketch, seed, d.draw);
  ExpHistogram merged;
  Bytes wire;
  for (std::size_t s = 0; s < sketches; ++s) {
    wire.clear();
    sketch_of(values.data() + s * kValuesPerSketch, kValuesPerSketch).serialize(wire);
    if (!merged.merge_serialized(wire).ok()) return std::numeric_limits<double>::infinity();
  }
  merged_bytes = merged.serialize().size();
  double worst = 0;
  for (double phi : {0.5, 0.9, 0.99, 0.999}) {
    const auto rank =
        static_cast<std::size_t>(std::floor(phi * static_cast<double>(values.size() - 1)));
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank),
                     values.end());
    worst = std::max(worst, relative_error(merged.quantile(phi), values[rank]));
  }
  return worst;
}

}  // namespace

void add_histogram_figures(const BenchOptions& options, nlohmann::json& out) {
  const int reps = options.repetitions;

  // add(): ns per value into a fresh sketch (bucket growth included, amortized).
  const std::size_t num_add = options.quick ? 100'000 : 1'000'000;
  const std::vector<double> add_values = draw_values(num_add, 1, lognormal);
  const double add_ns = median_ns(reps, [&] {
    ExpHistogram h;
    for (double v : add_values) h.add(v);
    do_not_optimize(h.count());
  });
  out["hist_add_ns"] = add_ns / static_cast<double>(num_add);

  // merge_serialized(): distinct serialized 1e4-value sketches into a warm accumulator.
  const std::size_t num_blobs = options.quick ? 20 : 100;
  std::vector<Bytes> blobs;
  for (std::size_t i = 0; i < num_blobs; ++i) {
    const std::vector<double> v = draw_values(kValuesPerSketch, 100 + i, lognormal);
    blobs.push_back(sketch_of(v.data(), v.size()).serialize());
  }
  out["hist_bytes_1e4"] = blobs[0].size();
  ExpHistogram accumulator;
  for (const Bytes& b : blobs) (void)accumulator.merge_serialized(b);
  constexpr int kRounds = 10;
  const double merge_ns = median_ns(reps, [&] {
    for (int round = 0; round < kRounds; ++round) {
      for (const Bytes& b : blobs) do_not_optimize(accumulator.merge_serialized(b).ok());
    }
  });
  out["hist_merge_us"] = merge_ns / 1000.0 / static_cast<double>(kRounds * num_blobs);

  // Accuracy and size after merging 1,000 (quick: 100) sketches of 1e4 values each.
  const std::size_t sketches = options.quick ? 100 : 1000;
  double worst = 0;
  std::uint64_t seed = 1000;
  for (const Distribution& d : distributions()) {
    std::size_t bytes = 0;
    worst = std::max(worst, merged_error(d, sketches, ++seed, bytes));
    if (std::string_view(d.name) == "lognormal") {
      out["hist_bytes_merged_1e7"] = bytes;  // the lognormal σ=1 workload
    }
  }
  out["hist_max_rel_err_merged"] = worst;
}

}  // namespace edgesketch::bench
