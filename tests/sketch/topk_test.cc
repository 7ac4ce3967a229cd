// Tests of the SpaceSaving top-K sketch: exactness, accuracy bounds on Zipf data (single and
// merged), merge properties, the wire format (golden bytes) and the decoder on hostile input.
#include "edgesketch/sketch/topk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace edgesketch::sketch {
namespace {

using Truth = std::unordered_map<std::string, std::uint64_t>;

// Zipf(s) over ranks 0..n-1 by inverse CDF; deterministic for a given engine.
class ZipfSampler {
 public:
  ZipfSampler(std::size_t n, double s) : cdf_(n) {
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      sum += 1.0 / std::pow(static_cast<double>(i + 1), s);
      cdf_[i] = sum;
    }
    for (double& c : cdf_) c /= sum;
  }
  std::size_t operator()(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return std::min<std::size_t>(static_cast<std::size_t>(it - cdf_.begin()), cdf_.size() - 1);
  }

 private:
  std::vector<double> cdf_;
};

// prefix + n (+ suffix), built by appending: GCC 12 warns (-Wrestrict) on "literal" + string.
std::string numbered(std::string_view prefix, std::uint64_t n, std::string_view suffix = "") {
  std::string s(prefix);
  s += std::to_string(n);
  s += suffix;
  return s;
}

std::vector<std::string> make_keys(std::size_t n) {
  std::vector<std::string> keys(n);
  for (std::size_t i = 0; i < n; ++i) keys[i] = numbered("sensor/", i, "/temp");
  return keys;
}

// Checks every guarantee of the header against exact counts; `bound_capacity` is the C of the
// N / C bound.
void expect_guarantees(const TopK& s, const Truth& truth, std::uint64_t n,
                       std::uint32_t bound_capacity) {
  EXPECT_EQ(s.total(), n);
  EXPECT_LE(s.size(), s.capacity());
  EXPECT_LE(s.error_bound() * bound_capacity, n) << "error bound exceeds N / C";
  std::set<std::string> tracked;
  std::size_t violations = 0;
  std::string first;
  for (const TopKItem& item : s.top(s.size())) {
    tracked.insert(item.key);
    const auto it = truth.find(item.key);
    const std::uint64_t t = it == truth.end() ? 0 : it->second;
    if (t > item.count || item.count - item.error > t || item.error > s.error_bound()) {
      if (violations++ == 0) {
        first = item.key + " count " + std::to_string(item.count) + " error " +
                std::to_string(item.error) + " true " + std::to_string(t);
      }
    }
  }
  EXPECT_EQ(tracked.size(), s.size()) << "duplicate keys reported";
  EXPECT_EQ(violations, 0u) << "first: " << first;
  std::size_t untracked_violations = 0;
  for (const auto& [key, t] : truth) {
    if (!tracked.count(key) && t > s.error_bound()) ++untracked_violations;
  }
  EXPECT_EQ(untracked_violations, 0u) << "an untracked key exceeds error_bound()";
}

std::size_t recall_top(const TopK& s, const Truth& truth, std::size_t k) {
  std::vector<std::pair<std::string, std::uint64_t>> exact(truth.begin(), truth.end());
  std::sort(exact.begin(), exact.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::set<std::string> want;
  for (std::size_t i = 0; i < k && i < exact.size(); ++i) want.insert(exact[i].first);
  std::size_t hit = 0;
  for (const TopKItem& item : s.top(k)) hit += want.count(item.key);
  return hit;
}

TopKOptions with_capacity(std::uint32_t capacity) {
  TopKOptions o;
  o.capacity = capacity;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Basics

TEST(TopKTest, EmptySketch) {
  TopK s;
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.total(), 0u);
  EXPECT_EQ(s.error_bound(), 0u);
  EXPECT_EQ(s.capacity(), 1024u);
  EXPECT_EQ(s.seed(), kDefaultHashSeed);
  EXPECT_TRUE(s.top(10).empty());
  EXPECT_GT(s.memory_bytes(), 0u);
}

TEST(TopKTest, ExactWhenDistinctKeysFitCapacity) {
  TopK s(with_capacity(64));
  Truth truth;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const std::string key = numbered("k", rng() % 64);
    s.add(key);
    ++truth[key];
  }
  ASSERT_EQ(s.size(), truth.size());
  EXPECT_EQ(s.error_bound(), 0u);
  for (const TopKItem& item : s.top(64)) {
    EXPECT_EQ(item.count, truth[item.key]) << item.key;
    EXPECT_EQ(item.error, 0u) << item.key;
  }
  EXPECT_EQ(s.total(), 20000u);
}

TEST(TopKTest, TopOrdersByCountThenKey) {
  TopK s(with_capacity(8));
  s.add("b", 3);
  s.add("a", 3);
  s.add("c", 5);
  s.add("d", 1);
  const std::vector<TopKItem> want = {{"c", 5, 0}, {"a", 3, 0}, {"b", 3, 0}};
  EXPECT_EQ(s.top(3), want);
  EXPECT_EQ(s.top(100).size(), 4u);
  EXPECT_TRUE(s.top(0).empty());
}

TEST(TopKTest, WeightsAddUpAndZeroWeightIsIgnored) {
  TopK s(with_capacity(4));
  s.add("x", 10);
  s.add("x", 5);
  s.add("y", 0);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.total(), 15u);
  EXPECT_EQ(s.top(1)[0].count, 15u);
}

TEST(TopKTest, EvictionReplacesMinimumAndRaisesFloor) {
  TopK s(with_capacity(2));
  s.add("a", 3);
  s.add("b", 1);
  s.add("c", 4);  // replaces b (count 1): count 1 + 4, error 1
  const std::vector<TopKItem> want = {{"c", 5, 1}, {"a", 3, 0}};
  EXPECT_EQ(s.top(2), want);
  EXPECT_EQ(s.error_bound(), 1u);
  EXPECT_EQ(s.total(), 8u);
}

TEST(TopKTest, AddHashedMatchesAdd) {
  TopK a(with_capacity(16));
  TopK b(with_capacity(16));
  for (int i = 0; i < 100; ++i) {
    const std::string key = numbered("key", static_cast<std::uint64_t>(i % 37));
    a.add(key, static_cast<std::uint64_t>(i % 3));
    b.add_hashed(hash_key(key, b.seed()), key, static_cast<std::uint64_t>(i % 3));
  }
  EXPECT_EQ(a, b);
}

TEST(TopKTest, LongKeysAreTruncated) {
  TopKOptions o;
  o.max_key_bytes = 8;
  TopK s(o);
  s.add("abcdefgh-first");
  s.add("abcdefgh-second", 2);
  const std::string long_key = "abcdefgh-third";
  // A long key's hash is recomputed on the truncated key, so any hash may be passed.
  s.add_hashed(hash_key(long_key, s.seed()), long_key, 3);
  s.add("abcdefgh");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s.top(1)[0].key, "abcdefgh");
  EXPECT_EQ(s.top(1)[0].count, 7u);

  TopK d;  // default 128 bytes
  d.add(std::string(1000, 'z'));
  EXPECT_EQ(d.top(1)[0].key, std::string(128, 'z'));
}

TEST(TopKTest, CapacityOneKeepsLastHeavyKey) {
  TopK s(with_capacity(1));
  s.add("a", 2);
  s.add("b");
  const std::vector<TopKItem> want = {{"b", 3, 2}};
  EXPECT_EQ(s.top(5), want);
  EXPECT_EQ(s.error_bound(), 2u);
}

TEST(TopKTest, ValidateAndClampOptions) {
  EXPECT_TRUE(TopK::validate(TopKOptions{}).ok());
  EXPECT_EQ(TopK::validate(with_capacity(0)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TopK::validate(with_capacity(65537)).code(), StatusCode::kInvalidArgument);
  TopKOptions o;
  o.max_key_bytes = 0;
  EXPECT_EQ(TopK::validate(o).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TopK(with_capacity(0)).capacity(), 1u);
  EXPECT_EQ(TopK(with_capacity(1u << 20)).capacity(), 65536u);
}

// Heavy churn in a small table exercises backward-shift deletion: every tracked key must still
// be found afterwards, and for a single stream the counts sum to N exactly.
TEST(TopKTest, TableStaysConsistentUnderChurn) {
  TopK s(with_capacity(8));
  std::mt19937_64 rng(11);
  std::uint64_t n = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t w = 1 + rng() % 3;
    s.add(numbered("k", rng() % 40), w);
    n += w;
  }
  std::uint64_t sum = 0;
  for (const TopKItem& item : s.top(8)) sum += item.count;
  EXPECT_EQ(sum, n);
  EXPECT_EQ(s.size(), 8u);
  for (const TopKItem& item : s.top(8)) {
    s.add(item.key);
    EXPECT_EQ(s.size(), 8u) << item.key << " was not found";
    bool found = false;
    for (const TopKItem& after : s.top(8)) {
      if (after.key == item.key) {
        found = true;
        EXPECT_EQ(after.count, item.count + 1);
      }
    }
    EXPECT_TRUE(found) << item.key;
  }
}

// Keys whose hashes share their low bits all land in one group of the key table, so groups
// overflow and the table is rebuilt; every key must stay findable through evictions.
TEST(TopKTest, KeysCollidingInTheTableStayFindable) {
  std::vector<std::string> keys;
  for (std::uint64_t i = 0; keys.size() < 300; ++i) {
    std::string key = numbered("collide-", i);
    if ((hash_key(key) & 255) == 7) keys.push_back(std::move(key));
  }
  TopK s(with_capacity(64));
  Truth truth;
  std::mt19937_64 rng(13);
  std::uint64_t n = 0;
  for (int i = 0; i < 50000; ++i) {
    const std::string& key = keys[i < 1000 ? i % 64 : rng() % keys.size()];
    s.add(key);
    ++truth[key];
    ++n;
  }
  expect_guarantees(s, truth, n, 64);
  std::uint64_t sum = 0;
  for (const TopKItem& item : s.top(64)) sum += item.count;
  EXPECT_EQ(sum, n);
  for (const TopKItem& item : s.top(64)) {
    s.add(item.key);
    EXPECT_EQ(s.size(), 64u) << item.key << " was not found";
  }
  Result<TopK> back = TopK::deserialize(s.serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, s);
}

// The largest capacity uses every 16-bit slot index of the key table.
TEST(TopKTest, MaxCapacityFillsAndEvicts) {
  TopK s(with_capacity(kTopKMaxCapacity));
  for (std::uint64_t i = 0; i < kTopKMaxCapacity; ++i) s.add(numbered("d", i), 2);
  ASSERT_EQ(s.size(), kTopKMaxCapacity);
  EXPECT_EQ(s.error_bound(), 0u);
  s.add(numbered("d", kTopKMaxCapacity - 1));  // the last slot is found, not re-inserted
  EXPECT_EQ(s.top(1)[0], (TopKItem{numbered("d", kTopKMaxCapacity - 1), 3, 0}));
  for (std::uint64_t i = 0; i < 1000; ++i) s.add(numbered("e", i));
  EXPECT_EQ(s.size(), kTopKMaxCapacity);
  EXPECT_EQ(s.error_bound(), 2u);
  std::uint64_t sum = 0;
  for (const TopKItem& item : s.top(s.size())) sum += item.count;
  EXPECT_EQ(sum, s.total());
}

TEST(TopKTest, MemoryBytesGrowsWithItems) {
  TopK s(with_capacity(1024));
  const std::size_t empty = s.memory_bytes();
  for (int i = 0; i < 1024; ++i)
    s.add(numbered("a-rather-long-key-beyond-the-inline-bytes-", static_cast<std::uint64_t>(i)));
  EXPECT_GT(s.memory_bytes(), empty + 1024 * 40);
}

// ---------------------------------------------------------------------------------------------
// Accuracy on Zipf data

struct ZipfCase {
  std::uint32_t capacity;
  std::uint64_t seed;
};

class TopKZipfTest : public ::testing::TestWithParam<ZipfCase> {};

TEST_P(TopKZipfTest, SingleStreamRecallAndBounds) {
  const ZipfCase param = GetParam();
  const std::vector<std::string> keys = make_keys(100000);
  const ZipfSampler zipf(keys.size(), 1.1);
  std::mt19937_64 rng(param.seed);
  TopK s(with_capacity(param.capacity));
  Truth truth;
  constexpr std::uint64_t kAdds = 1000000;
  for (std::uint64_t i = 0; i < kAdds; ++i) {
    const std::string& key = keys[zipf(rng)];
    s.add_hashed(hash_key(key, s.seed()), key);
    ++truth[key];
  }
  EXPECT_EQ(s.size(), param.capacity);
  EXPECT_EQ(recall_top(s, truth, 10), 10u);
  expect_guarantees(s, truth, kAdds, param.capacity);
}

TEST_P(TopKZipfTest, MergedStreamsRecallAndBounds) {
  const ZipfCase param = GetParam();
  const std::vector<std::string> keys = make_keys(100000);
  const ZipfSampler zipf(keys.size(), 1.1);
  std::mt19937_64 rng(param.seed);
  Truth truth;
  // 100 consecutive pieces of one stream, one sketch each, as agents would see over time.
  std::vector<TopK> parts;
  constexpr int kParts = 100;
  constexpr int kAddsPerPart = 10000;
  for (int p = 0; p < kParts; ++p) {
    TopK part(with_capacity(param.capacity));
    for (int i = 0; i < kAddsPerPart; ++i) {
      const std::string& key = keys[zipf(rng)];
      part.add(key);
      ++truth[key];
    }
    parts.push_back(std::move(part));
  }
  const std::uint64_t n = std::uint64_t{kParts} * kAddsPerPart;

  TopK folded(with_capacity(param.capacity));
  for (const TopK& part : parts) ASSERT_TRUE(folded.merge(part).ok());
  EXPECT_EQ(recall_top(folded, truth, 10), 10u);
  expect_guarantees(folded, truth, n, param.capacity);

  // Another grouping (pairwise tree, right to left) keeps the same bounds.
  std::vector<TopK> level(parts.rbegin(), parts.rend());
  while (level.size() > 1) {
    std::vector<TopK> next;
    for (std::size_t i = 0; i + 1 < level.size(); i += 2) {
      ASSERT_TRUE(level[i].merge(level[i + 1]).ok());
      next.push_back(std::move(level[i]));
    }
    if (level.size() % 2) next.push_back(std::move(level.back()));
    level = std::move(next);
  }
  EXPECT_EQ(recall_top(level[0], truth, 10), 10u);
  expect_guarantees(level[0], truth, n, param.capacity);
  EXPECT_EQ(folded.top(10).size(), 10u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, TopKZipfTest,
                         ::testing::Values(ZipfCase{1024, 1}, ZipfCase{1024, 2}, ZipfCase{4096, 3},
                                           ZipfCase{256, 4}),
                         [](const ::testing::TestParamInfo<ZipfCase>& info) {
                           return "cap" + std::to_string(info.param.capacity) + "_seed" +
                                  std::to_string(info.param.seed);
                         });

// ---------------------------------------------------------------------------------------------
// Merge properties

// A full sketch of `adds` Zipf keys; keys[offset..] shifts which keys are heavy.
TopK zipf_sketch(std::uint32_t capacity, std::uint64_t seed, int adds, std::size_t offset,
                 Truth* truth = nullptr) {
  static const std::vector<std::string> keys = make_keys(20000);
  const ZipfSampler zipf(keys.size() - offset, 1.1);
  std::mt19937_64 rng(seed);
  TopK s(with_capacity(capacity));
  for (int i = 0; i < adds; ++i) {
    const std::string& key = keys[offset + zipf(rng)];
    s.add(key);
    if (truth) ++(*truth)[key];
  }
  return s;
}

TEST(TopKMergeTest, Commutative) {
  const TopK a = zipf_sketch(128, 21, 30000, 0);
  const TopK b = zipf_sketch(128, 22, 20000, 50);
  TopK ab = a;
  TopK ba = b;
  ASSERT_TRUE(ab.merge(b).ok());
  ASSERT_TRUE(ba.merge(a).ok());
  EXPECT_EQ(ab, ba);
  EXPECT_EQ(ab.top(ab.size()), ba.top(ba.size()));
  EXPECT_EQ(ab.serialize(), ba.serialize());
}

TEST(TopKMergeTest, CommutativeWithTiesAtTheCut) {
  // Every count equal: which keys survive must depend on the keys only.
  TopK a(with_capacity(4));
  TopK b(with_capacity(4));
  for (const char* k : {"d", "b", "f", "h"}) a.add(k);
  for (const char* k : {"a", "g", "c", "e"}) b.add(k);
  TopK ab = a;
  TopK ba = b;
  ASSERT_TRUE(ab.merge(b).ok());
  ASSERT_TRUE(ba.merge(a).ok());
  EXPECT_EQ(ab, ba);
  const std::vector<TopKItem> want = {{"a", 1, 0}, {"b", 1, 0}, {"c", 1, 0}, {"d", 1, 0}};
  EXPECT_EQ(ab.top(4), want);
  EXPECT_EQ(ab.error_bound(), 1u);
}

TEST(TopKMergeTest, AssociativeUpToTheBound) {
  Truth truth;
  const TopK a = zipf_sketch(128, 31, 20000, 0, &truth);
  const TopK b = zipf_sketch(128, 32, 20000, 10, &truth);
  const TopK c = zipf_sketch(128, 33, 20000, 20, &truth);
  TopK left = a;  // (a + b) + c
  ASSERT_TRUE(left.merge(b).ok());
  ASSERT_TRUE(left.merge(c).ok());
  TopK bc = b;  // a + (b + c)
  ASSERT_TRUE(bc.merge(c).ok());
  TopK right = a;
  ASSERT_TRUE(right.merge(bc).ok());
  expect_guarantees(left, truth, 60000, 128);
  expect_guarantees(right, truth, 60000, 128);
  EXPECT_EQ(recall_top(left, truth, 5), 5u);
  EXPECT_EQ(recall_top(right, truth, 5), 5u);
}

TEST(TopKMergeTest, DisjointExactSketchesMergeExactly) {
  TopK a(with_capacity(8));
  TopK b(with_capacity(8));
  a.add("x", 4);
  a.add("y", 2);
  b.add("y", 3);
  b.add("z", 1);
  ASSERT_TRUE(a.merge(b).ok());
  const std::vector<TopKItem> want = {{"y", 5, 0}, {"x", 4, 0}, {"z", 1, 0}};
  EXPECT_EQ(a.top(8), want);
  EXPECT_EQ(a.total(), 10u);
  EXPECT_EQ(a.error_bound(), 0u);
}

TEST(TopKMergeTest, FloorOfFullSketchCoversItsMissingKeys) {
  TopK a(with_capacity(2));
  a.add("a", 5);
  a.add("b", 2);
  a.add("c", 1);  // evicts b: c = 3 (error 2), floor 2
  TopK b(with_capacity(2));
  b.add("b", 4);
  ASSERT_TRUE(a.merge(b).ok());
  // a: 5 + 0 (b is not full, floor 0); b: 4 + floor 2 (error 2); c: 3 + 0 -> dropped, floor 3.
  const std::vector<TopKItem> want = {{"b", 6, 2}, {"a", 5, 0}};
  EXPECT_EQ(a.top(2), want);
  EXPECT_EQ(a.error_bound(), 3u);
  EXPECT_EQ(a.total(), 12u);
}

TEST(TopKMergeTest, IntoEmptyIsIdentity) {
  const TopK s = zipf_sketch(256, 41, 50000, 0);
  TopK empty(with_capacity(256));
  ASSERT_TRUE(empty.merge(s).ok());
  EXPECT_EQ(empty, s);
  TopK copy = s;
  ASSERT_TRUE(copy.merge(TopK(with_capacity(256))).ok());
  EXPECT_EQ(copy, s);
}

TEST(TopKMergeTest, SelfMergeDoubles) {
  TopK s(with_capacity(8));
  s.add("a", 3);
  s.add("b", 1);
  ASSERT_TRUE(s.merge(s).ok());
  const std::vector<TopKItem> want = {{"a", 6, 0}, {"b", 2, 0}};
  EXPECT_EQ(s.top(8), want);
  EXPECT_EQ(s.total(), 8u);
}

TEST(TopKMergeTest, SeedMismatchRefused) {
  TopK a;
  a.add("x");
  TopKOptions o;
  o.seed = 99;
  TopK b(o);
  b.add("y");
  const TopK before = a;
  const Status st = a.merge(b);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("seed"), std::string::npos) << st.message();
  EXPECT_EQ(a, before);
}

TEST(TopKMergeTest, LongerKeyLimitRefused) {
  TopKOptions small;
  small.max_key_bytes = 16;
  TopK a(small);
  TopK b;  // 128
  EXPECT_EQ(a.merge(b).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(b.merge(a).ok());
}

TEST(TopKMergeTest, DifferentCapacitiesKeepThisCapacityAndSmallerBound) {
  Truth truth;
  TopK collector(with_capacity(4096));
  std::uint64_t n = 0;
  for (int agent = 0; agent < 8; ++agent) {
    const TopK s = zipf_sketch(1024, 50 + agent, 40000, 0, &truth);
    n += s.total();
    ASSERT_TRUE(collector.merge(s).ok());
  }
  EXPECT_EQ(collector.capacity(), 4096u);
  EXPECT_GT(collector.size(), 1024u);
  expect_guarantees(collector, truth, n, 1024);
  EXPECT_EQ(recall_top(collector, truth, 10), 10u);
  // Counts may legitimately sum past N here; the decoder must still accept the sketch.
  Result<TopK> back = TopK::deserialize(collector.serialize());
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, collector);

  TopK agent(with_capacity(1024));  // and the other way round: only the 1,024 largest stay
  ASSERT_TRUE(agent.merge(collector).ok());
  EXPECT_EQ(agent.size(), 1024u);
  expect_guarantees(agent, truth, n, 1024);
}

// ---------------------------------------------------------------------------------------------
// Serialization

TEST(TopKSerializeTest, RoundTrip) {
  std::vector<TopK> sketches;
  sketches.emplace_back();
  sketches.push_back(zipf_sketch(64, 61, 1000, 0));
  sketches.push_back(zipf_sketch(1024, 62, 100000, 0));
  TopK merged = zipf_sketch(512, 63, 30000, 0);
  ASSERT_TRUE(merged.merge(zipf_sketch(512, 64, 30000, 7)).ok());
  sketches.push_back(merged);
  TopKOptions o;
  o.seed = 5;
  o.max_key_bytes = 3;
  o.capacity = 3;
  TopK odd(o);
  odd.add("");
  odd.add("abcdef", 1000);
  odd.add(std::string("\0\xff", 2));
  sketches.push_back(odd);
  for (const TopK& s : sketches) {
    const Bytes bytes = s.serialize();
    Result<TopK> back = TopK::deserialize(bytes);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(*back, s);
    EXPECT_EQ(back->serialize(), bytes);
    EXPECT_EQ(back->max_key_bytes(), s.max_key_bytes());
    EXPECT_EQ(back->top(20), s.top(20));
  }
  // serialize(out) appends.
  Bytes out = {0xaa};
  sketches[1].serialize(out);
  EXPECT_EQ(out.size(), 1 + sketches[1].serialize().size());
}

TEST(TopKSerializeTest, DeserializedSketchKeepsWorking) {
  const TopK s = zipf_sketch(128, 71, 20000, 0);
  Result<TopK> back = TopK::deserialize(s.serialize());
  ASSERT_TRUE(back.ok());
  TopK a = s;
  TopK b = std::move(back).value();
  for (int i = 0; i < 1000; ++i) {
    const std::string key = numbered("sensor/", static_cast<std::uint64_t>(i % 50), "/temp");
    a.add(key);
    b.add(key);
  }
  EXPECT_EQ(a.total(), b.total());
  EXPECT_EQ(a.top(10), b.top(10));
}

// capacity 4, seed 42, max_key_bytes 16: a=5, b=2, c=1.
const Bytes kGolden = {
    0x01,                                            // version
    0x04, 0x00, 0x00, 0x00,                          // capacity
    0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seed
    0x10,                                            // max_key_bytes
    0x04,                                            // bound capacity
    0x08,                                            // total
    0x00,                                            // floor
    0x03,                                            // item count
    0x01, 'a',  0x05, 0x00,                          // key, count, error
    0x01, 'b',  0x02, 0x00,                          //
    0x01, 'c',  0x01, 0x00,                          //
};

TopK golden_sketch() {
  TopKOptions o;
  o.capacity = 4;
  o.seed = 42;
  o.max_key_bytes = 16;
  TopK s(o);
  s.add("b", 2);
  s.add("c");
  s.add("a", 5);
  return s;
}

TEST(TopKSerializeTest, GoldenBytes) {
  EXPECT_EQ(golden_sketch().serialize(), kGolden);
  Result<TopK> back = TopK::deserialize(kGolden);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, golden_sketch());
}

// Decodes `bytes`, expecting Corruption with `what` in the message.
void expect_corrupt(const Bytes& bytes, const std::string& what) {
  Result<TopK> r = TopK::deserialize(bytes);
  ASSERT_FALSE(r.ok()) << "accepted, expected: " << what;
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().message();
}

// kGolden with byte `pos` set to `value`.
Bytes golden_with(std::size_t pos, std::uint8_t value) {
  Bytes b = kGolden;
  b[pos] = value;
  return b;
}

TEST(TopKSerializeTest, DecoderRejectsEachKindOfCorruption) {
  expect_corrupt({}, "empty");
  expect_corrupt(golden_with(0, 2), "unsupported version 2");
  expect_corrupt(golden_with(1, 0), "capacity 0");
  Bytes big = kGolden;
  big[1] = 0x01, big[2] = 0x00, big[3] = 0x01;  // 65537
  expect_corrupt(big, "capacity 65537");
  expect_corrupt(golden_with(13, 0), "max_key_bytes 0");
  expect_corrupt(golden_with(14, 5), "bound capacity 5");
  expect_corrupt(golden_with(17, 5), "item count 5 exceeds capacity 4");
  expect_corrupt(golden_with(17, 4), "truncated at item 3 of 4");
  Bytes long_key = golden_with(13, 1);  // max_key_bytes 1 ...
  long_key[18] = 2;                     // ... but the first key claims 2 bytes
  expect_corrupt(long_key, "key length 2 exceeds max_key_bytes 1");
  expect_corrupt(golden_with(23, 'a'), "item 1 duplicates the previous key");
  expect_corrupt(golden_with(19, 'z'), "item 1 is not in ascending key order");
  expect_corrupt(golden_with(21, 6), "error 6 exceeds its count 5");
  expect_corrupt(golden_with(16, 2), "item 2 count 1 / error 0 inconsistent with floor 2");
  expect_corrupt(golden_with(15, 7), "counts exceed what total 7 allows");
  Bytes trailing = kGolden;
  trailing.push_back(0);
  expect_corrupt(trailing, "1 trailing bytes");
  Bytes bad_varint = kGolden;
  bad_varint[15] = 0x80;  // total's continuation runs into the next field
  bad_varint.resize(16);
  expect_corrupt(bad_varint, "truncated");
}

TEST(TopKSerializeTest, FloorAndBoundCapacityAreChecked) {
  // Floor 1 with bound capacity 4 needs total >= sum(count - 1) + 4 * 1 = 9 (counts 5, 2, 1).
  Bytes b = kGolden;
  b[16] = 1;  // floor
  b[21] = 1;  // error of a
  b[15] = 9;  // total
  EXPECT_TRUE(TopK::deserialize(b).ok());
  b[15] = 8;
  expect_corrupt(b, "counts exceed what total 8 allows");
  b[15] = 0x7f;
  b[25] = 2;  // error of b above the floor
  expect_corrupt(b, "item 1 count 2 / error 2 inconsistent with floor 1");
}

TEST(TopKSerializeTest, EveryTruncationIsRejected) {
  const Bytes full = zipf_sketch(64, 81, 5000, 0).serialize();
  for (std::size_t len = 0; len < full.size(); ++len) {
    Result<TopK> r = TopK::deserialize(ByteSpan(full.data(), len));
    EXPECT_FALSE(r.ok()) << "prefix of " << len << " bytes accepted";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    }
  }
}

// Any outcome but a crash is fine for mutated input; a sketch that decodes must round-trip.
void expect_decodes_cleanly(ByteSpan bytes) {
  Result<TopK> r = TopK::deserialize(bytes);
  if (!r.ok()) {
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    return;
  }
  Result<TopK> again = TopK::deserialize(r->serialize());
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(*again, *r);
  EXPECT_LE(r->top(10).size(), 10u);
  TopKOptions o;
  o.capacity = r->capacity();
  o.seed = r->seed();
  o.max_key_bytes = r->max_key_bytes();
  TopK fresh(o);
  ASSERT_TRUE(fresh.merge(*r).ok());
  EXPECT_EQ(fresh, *r);
}

TEST(TopKSerializeTest, BitFlipsNeverCrash) {
  const Bytes full = zipf_sketch(32, 91, 3000, 0).serialize();
  std::size_t accepted = 0;
  for (std::size_t bit = 0; bit < full.size() * 8; ++bit) {
    Bytes b = full;
    b[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    expect_decodes_cleanly(b);
    accepted += TopK::deserialize(b).ok();
  }
  // Flips in the seed and in key bytes that keep the order are legitimately accepted.
  EXPECT_GT(accepted, 64u);
}

TEST(TopKSerializeTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(101);
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng() % 200);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (i % 2 && b.size() > 20) {
      // Plausible header so the item decoding is reached too.
      b[0] = 1;
      b[1] = static_cast<std::uint8_t>(1 + rng() % 8), b[2] = 0, b[3] = 0, b[4] = 0;
    }
    expect_decodes_cleanly(b);
  }
}

}  // namespace
}  // namespace edgesketch::sketch
