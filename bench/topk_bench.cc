// Figures of the topk sketch for the sketch suite: add_hashed speed, merge time, serialized size
// and accuracy after merging 100 sketches of a Zipf(1.1) stream.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bench.h"
#include "edgesketch/sketch/topk.h"

namespace edgesketch::bench {
namespace {

using sketch::TopK;
using sketch::TopKOptions;

constexpr std::uint32_t kAgentSlots = 1024;
constexpr double kZipfS = 1.1;

struct Event {
  std::uint64_t hash;
  std::string_view key;
};

// A Zipf(kZipfS) stream over `universe` keys with precomputed hashes. Each event's key bytes are
// stored in arrival order, as an agent sees them in the message it has just parsed, rather than
// shared in a dictionary that random access would keep out of cache.
class ZipfStream {
 public:
  ZipfStream(std::size_t universe, std::size_t length, std::uint64_t seed) {
    std::vector<std::string> names(universe);
    std::vector<std::uint64_t> hashes(universe);
    for (std::size_t i = 0; i < universe; ++i) {
      names[i] = "sensor/" + std::to_string(i) + "/temp";
      hashes[i] = sketch::hash_key(names[i]);
    }
    std::vector<double> cdf(universe);
    double sum = 0;
    for (std::size_t i = 0; i < universe; ++i) {
      sum += 1.0 / std::pow(static_cast<double>(i + 1), kZipfS);
      cdf[i] = sum;
    }
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uniform(0.0, sum);
    std::vector<std::size_t> ranks(length);
    std::size_t bytes = 0;
    for (std::size_t& r : ranks) {
      r = std::min<std::size_t>(
          static_cast<std::size_t>(std::lower_bound(cdf.begin(), cdf.end(), uniform(rng)) -
                                   cdf.begin()),
          universe - 1);
      bytes += names[r].size();
    }
    pool_.reserve(bytes);  // views into pool_ stay valid
    events_.reserve(length);
    for (std::size_t r : ranks) {
      events_.push_back(
          Event{hashes[r], std::string_view(pool_.data() + pool_.size(), names[r].size())});
      pool_ += names[r];
    }
  }
  const std::vector<Event>& events() const { return events_; }

 private:
  std::string pool_;
  std::vector<Event> events_;
};

TopK sketch_of(const Event* begin, const Event* end) {
  TopK s(TopKOptions{kAgentSlots});
  for (const Event* e = begin; e != end; ++e) s.add_hashed(e->hash, e->key);
  return s;
}

}  // namespace

void add_topk_figures(const BenchOptions& options, nlohmann::json& out) {
  const std::size_t universe = 100000;
  const std::size_t length = options.quick ? 100000 : 1000000;
  const ZipfStream stream(universe, length, 1);
  const std::vector<Event>& events = stream.events();

  // add_hashed in steady state: the sketch is full and warm before timing.
  TopK hot(TopKOptions{kAgentSlots});
  for (const Event& e : events) hot.add_hashed(e.hash, e.key);
  const double add_ns = median_ns(options.repetitions, [&] {
    for (const Event& e : events) hot.add_hashed(e.hash, e.key);
  });
  do_not_optimize(hot.total());
  out["topk_add_ns"] = add_ns / static_cast<double>(events.size());

  // Merge of two full sketches built from the two halves of the stream; the copy is not timed.
  const std::size_t half = events.size() / 2;
  const TopK a = sketch_of(events.data(), events.data() + half);
  const TopK b = sketch_of(events.data() + half, events.data() + events.size());
  std::vector<double> merge_ns;
  for (int r = 0; r < options.repetitions; ++r) {
    TopK acc = a;
    const auto start = std::chrono::steady_clock::now();
    Status st = acc.merge(b);
    const auto end = std::chrono::steady_clock::now();
    do_not_optimize(st.ok());
    merge_ns.push_back(std::chrono::duration<double, std::nano>(end - start).count());
  }
  out["topk_merge_us"] = median(std::move(merge_ns)) / 1000.0;
  out["topk_bytes"] = a.serialize().size();

  // Accuracy: 100 consecutive pieces of the stream, one sketch each, merged in order.
  constexpr std::size_t kParts = 100;
  TopK merged(TopKOptions{kAgentSlots});
  std::unordered_map<std::string_view, std::uint64_t> exact;
  const std::size_t part = events.size() / kParts;
  for (std::size_t p = 0; p < kParts; ++p) {
    const Event* begin = events.data() + p * part;
    Status st = merged.merge(sketch_of(begin, begin + part));
    if (!st.ok()) out["topk_error"] = st.to_string();
    for (const Event* e = begin; e != begin + part; ++e) ++exact[e->key];
  }
  std::vector<std::pair<std::string_view, std::uint64_t>> truth(exact.begin(), exact.end());
  std::sort(truth.begin(), truth.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  // Recall of the true top 10 among the reported top 10; the error over the reported top 100
  // (the top 10 alone are usually exact: heavy keys enter every part before any eviction).
  const std::vector<sketch::TopKItem> reported = merged.top(100);
  std::size_t hits = 0;
  double max_err = 0;
  for (std::size_t r = 0; r < reported.size(); ++r) {
    const sketch::TopKItem& item = reported[r];
    for (std::size_t i = 0; r < 10 && i < 10 && i < truth.size(); ++i) {
      hits += truth[i].first == item.key;
    }
    const auto it = exact.find(item.key);
    const std::uint64_t t = it == exact.end() ? 0 : it->second;
    const double err =
        item.count > t ? static_cast<double>(item.count - t) : static_cast<double>(t - item.count);
    max_err = std::max(max_err, err);
  }
  out["topk_recall_top10_zipf"] = static_cast<double>(hits) / 10.0;
  out["topk_max_err_frac"] = max_err / static_cast<double>(merged.total());
}

}  // namespace edgesketch::bench
