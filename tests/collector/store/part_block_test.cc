// Part blocks and part files: round trips, histogram field stripping, Gorilla and decimal
// floats and rejection of damaged bytes.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "collector/store_test_util.h"
#include "edgesketch/store/part_block.h"
#include "float_coding.h"
#include "part_file.h"

namespace edgesketch::store {
namespace {

struct OwnedRow {
  PartRow row;
  Bytes h, d, t;
};

std::vector<OwnedRow> make_rows(std::mt19937_64& rng, int n) {
  std::vector<OwnedRow> rows(static_cast<std::size_t>(n));
  std::uint64_t sid = 5;
  std::int64_t ws = 1'700'000'000'000;
  for (auto& o : rows) {
    if (rng() % 7 == 0) {
      sid += 1 + rng() % 3;
      ws = 1'700'000'000'000 - static_cast<std::int64_t>(rng() % 100) * 10'000;
    } else {
      ws += 10'000 * static_cast<std::int64_t>(1 + rng() % 2);
    }
    auto rec = testing::make_record(rng, "m", 1, ws, 10'000, 1 + static_cast<int>(rng() % 50),
                                    rng() % 3 == 0);
    o.row.series_id = sid;
    o.row.window_start = ws;
    o.row.count = rec.agg.count();
    o.row.sum = rec.agg.sum();
    o.row.min = rec.agg.min();
    o.row.max = rec.agg.max();
    if (rng() % 5 != 0) {
      rec.agg.histogram()->serialize(o.h);
      // Sometimes the histogram's sum differs from the row's (not every reading fed it).
      if (rng() % 4 == 0) o.row.sum += 1;
    }
    if (rec.agg.distinct()) rec.agg.distinct()->serialize(o.d);
    if (rec.agg.topk()) rec.agg.topk()->serialize(o.t);
    o.row.histogram = o.h;
    o.row.distinct = o.d;
    o.row.topk = o.t;
  }
  return rows;
}

std::vector<PartRow> views(const std::vector<OwnedRow>& rows) {
  std::vector<PartRow> v;
  for (const auto& o : rows) v.push_back(o.row);
  return v;
}

TEST(StoreGorillaTest, RoundTripsSpecialValues) {
  std::vector<double> v = {0.0,
                           -0.0,
                           1.5,
                           1.5,
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           1e-300,
                           21.37,
                           21.38,
                           5};
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) v.push_back(std::ldexp(static_cast<double>(rng() % 100000), -7));
  Bytes b;
  gorilla_encode(v, b);
  std::vector<double> out;
  ASSERT_TRUE(gorilla_decode(b, v.size(), out));
  ASSERT_EQ(out.size(), v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(std::bit_cast<std::uint64_t>(out[i]), std::bit_cast<std::uint64_t>(v[i])) << i;
  }
  EXPECT_FALSE(gorilla_decode(b, v.size() + 20, out));
  b.push_back(0);
  EXPECT_FALSE(gorilla_decode(b, v.size(), out));
}

bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

std::vector<double> special_doubles() {
  return {0.0,
          -0.0,
          21.37,
          -21.37,
          0.1 + 0.2,
          1e300,
          -1e300,
          5e-324,
          std::numeric_limits<double>::max(),
          std::numeric_limits<double>::lowest(),
          std::numeric_limits<double>::infinity(),
          -std::numeric_limits<double>::infinity(),
          std::numeric_limits<double>::quiet_NaN(),
          std::bit_cast<double>(std::uint64_t{0xfff0000000000123}),  // a NaN with a payload
          4.611686018427388e18,                                      // 2^62
          -9.3e18};
}

TEST(StoreDecimalCodingTest, SplitAndJoinAreExactForEveryDouble) {
  std::vector<double> v = special_doubles();
  std::mt19937_64 rng(5);
  for (int i = 0; i < 2000; ++i) v.push_back(std::bit_cast<double>(rng()));
  for (const double x : v) {
    for (int k = 0; k <= kMaxDecimalDigits; ++k) {
      const DecimalParts p = decimal_split(x, k);
      ASSERT_TRUE(same_bits(decimal_join(p.m, p.ulps, k), x)) << x << " k=" << k;
    }
  }
  // A reading at sensor resolution needs no correction at its digits.
  EXPECT_EQ(decimal_split(21.37, 2).m, 2137);
  EXPECT_EQ(decimal_split(21.37, 2).ulps, 0);
  EXPECT_EQ(decimal_split(-0.005, 3).m, -5);
  EXPECT_EQ(decimal_split(-0.005, 3).ulps, 0);
}

std::vector<double> decode_run(const Bytes& b, std::size_t n, std::span<const double> predictions) {
  ByteReader r(b);
  std::vector<double> out = {42.0};  // decode_scalar_run appends
  EXPECT_TRUE(decode_scalar_run(r, n, predictions, out));
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(out.size(), n + 1);
  return std::vector<double>(out.begin() + 1, out.end());
}

TEST(StoreScalarRunTest, RoundTripsBitForBitWithAndWithoutPredictions) {
  std::mt19937_64 rng(6);
  std::vector<std::vector<double>> runs = {special_doubles(), {1.0}};
  std::vector<double> sensor, full, sums;
  double drift = 0;
  for (int i = 0; i < 360; ++i) {
    drift += static_cast<double>(rng() % 21) - 10.0;
    sensor.push_back((2137.0 + drift + static_cast<double>(rng() % 9)) / 100.0);
    full.push_back(21.0 + std::ldexp(static_cast<double>(rng() >> 11), -53));
    double s = 0;
    for (int k = 0; k < 10; ++k) s += (2137.0 + drift + static_cast<double>(rng() % 9)) / 100.0;
    sums.push_back(s);
  }
  runs.push_back(sensor);
  runs.push_back(full);
  runs.push_back(sums);
  for (const auto& run : runs) {
    std::vector<double> predictions;
    for (const double x : run) predictions.push_back(x * 0.75);
    for (const bool predict : {false, true}) {
      const std::span<const double> p =
          predict ? std::span<const double>(predictions) : std::span<const double>();
      Bytes b;
      encode_scalar_run(run, p, b);
      const auto back = decode_run(b, run.size(), p);
      for (std::size_t i = 0; i < run.size(); ++i) {
        ASSERT_TRUE(same_bits(back[i], run[i])) << i << ": " << run[i];
      }
      // Truncation anywhere fails.
      for (std::size_t n = 0; n < b.size(); ++n) {
        ByteReader r(ByteSpan(b).first(n));
        std::vector<double> out;
        EXPECT_FALSE(decode_scalar_run(r, run.size(), p, out) && r.at_end()) << n;
      }
    }
  }
}

TEST(StoreScalarRunTest, SensorReadingsTakeFewerBytesThanGorilla) {
  std::vector<double> v;
  std::mt19937_64 rng(7);
  double x = 2137;
  for (int i = 0; i < 360; ++i) {
    x += static_cast<double>(rng() % 11) - 5.0;
    v.push_back(x / 100.0);
  }
  Bytes gorilla, run;
  gorilla_encode(v, gorilla);
  encode_scalar_run(v, {}, run);
  // The mode byte, two for the first value, then one per delta of at most 0.05.
  EXPECT_EQ(run.size(), v.size() + 2);
  EXPECT_GT(gorilla.size(), 4 * v.size());
  // Exact predictions leave zero deltas: mode byte (2 digits, predicted), then zeros.
  Bytes predicted;
  encode_scalar_run(v, v, predicted);
  ASSERT_EQ(predicted.size(), v.size() + 1);
  EXPECT_EQ(predicted[0], 0x22);
  EXPECT_EQ(Bytes(predicted.begin() + 1, predicted.end()), Bytes(v.size(), 0));
}

TEST(StoreScalarRunTest, RejectsBadModesAndMissingPredictions) {
  Bytes b;
  encode_scalar_run(std::vector<double>{21.37, 21.38}, std::vector<double>{21.37, 21.38}, b);
  ASSERT_EQ(b[0], 0x22);  // predicted
  std::vector<double> out;
  ByteReader no_predictions(b);
  EXPECT_FALSE(decode_scalar_run(no_predictions, 2, {}, out));
  for (const std::uint8_t mode : {std::uint8_t{0x0a}, std::uint8_t{0x40}, std::uint8_t{0x8f}}) {
    Bytes bad = {mode, 0, 0};
    ByteReader r(bad);
    EXPECT_FALSE(decode_scalar_run(r, 2, {}, out)) << int{mode};
  }
}

TEST(StorePartBlockTest, RoundTripsRowsAndSketches) {
  std::mt19937_64 rng(11);
  auto rows = make_rows(rng, 3000);
  Bytes framed;
  encode_part_block(views(rows), 3, framed);
  auto block = decode_part_block(framed);
  ASSERT_TRUE(block.ok()) << block.status().to_string();
  ASSERT_EQ(block->rows(), rows.size());
  Bytes scratch;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const PartRow r = block->row(i, scratch);
    const PartRow& e = rows[i].row;
    ASSERT_EQ(r.series_id, e.series_id);
    ASSERT_EQ(r.window_start, e.window_start);
    ASSERT_EQ(r.count, e.count);
    ASSERT_EQ(r.sum, e.sum);
    ASSERT_EQ(r.min, e.min);
    ASSERT_EQ(r.max, e.max);
    ASSERT_EQ(Bytes(r.histogram.begin(), r.histogram.end()), rows[i].h) << i;
    ASSERT_EQ(Bytes(r.distinct.begin(), r.distinct.end()), rows[i].d) << i;
    ASSERT_EQ(Bytes(r.topk.begin(), r.topk.end()), rows[i].t) << i;
  }
}

TEST(StorePartBlockTest, RejectsEveryFlippedByteAndTruncation) {
  std::mt19937_64 rng(12);
  auto rows = make_rows(rng, 50);
  Bytes framed;
  encode_part_block(views(rows), 3, framed);
  for (std::size_t i = 0; i < framed.size(); ++i) {
    Bytes bad = framed;
    bad[i] ^= 0x40;
    EXPECT_FALSE(decode_part_block(bad).ok()) << "flipped byte " << i;
  }
  for (std::size_t n = 0; n < framed.size(); n += 7) {
    EXPECT_FALSE(decode_part_block(ByteSpan(framed).first(n)).ok()) << n;
  }
}

TEST(StorePartFileTest, WritesAndReadsBackWithIndex) {
  testing::TempDir dir;
  std::mt19937_64 rng(13);
  auto rows = make_rows(rng, 2500);
  PartMeta meta;
  meta.tenant = "acme";
  meta.tier_ms = 10'000;
  meta.day = 19'675;
  const std::string path = dir.path() + "/x.part";
  {
    PartWriter w(env::Env::posix(), path, meta, 1000, 3);
    for (const auto& o : rows) ASSERT_TRUE(w.add(o.row).ok());
    std::uint64_t bytes = 0;
    auto done = w.finish(bytes);
    ASSERT_TRUE(done.ok()) << done.status().to_string();
    EXPECT_EQ(done->rows, rows.size());
    EXPECT_EQ(done->blocks, 3u);
  }
  auto reader = PartReader::open(env::Env::posix(), path, true);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_EQ((*reader)->meta().tenant, "acme");
  EXPECT_EQ((*reader)->meta().rows, rows.size());
  std::size_t i = 0;
  Bytes scratch;
  for (std::size_t b = 0; b < (*reader)->index().size(); ++b) {
    auto block = (*reader)->read_block(b);
    ASSERT_TRUE(block.ok());
    for (std::size_t r = 0; r < block->rows(); ++r, ++i) {
      EXPECT_EQ(block->series_id(r), rows[i].row.series_id);
      EXPECT_EQ(block->window_start(r), rows[i].row.window_start);
    }
  }
  EXPECT_EQ(i, rows.size());
  // Truncation anywhere is detected at open.
  const std::string data = testing::read_all(path);
  for (std::size_t cut : {data.size() - 1, data.size() / 2, std::size_t{10}}) {
    testing::write_all(path, data.substr(0, cut));
    EXPECT_FALSE(PartReader::open(env::Env::posix(), path, true).ok()) << cut;
  }
}

}  // namespace
}  // namespace edgesketch::store
