// Part blocks and part files: round trips, histogram field stripping, Gorilla floats and
// rejection of damaged bytes.
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
