// BatchWriter on a real ClickHouse server: a batch's rows read back exactly (scalars, sketches
// byte for byte, the catalog), and a batch written twice, or once partly and then whole, counts
// once through FINAL.
#include "edgesketch/clickhouse/batch_writer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>
#include <sstream>

#include "collector/clickhouse/clickhouse_fixture.h"
#include "collector/store_test_util.h"
#include "edgesketch/clickhouse/client.h"
#include "edgesketch/testbed/clickhouse_server.h"

namespace edgesketch::clickhouse {
namespace {

using store::testing::make_batch;

std::string hex(const Bytes& b) {
  std::string out;
  char buf[3];
  for (std::uint8_t c : b) {
    std::snprintf(buf, sizeof buf, "%02X", c);
    out += buf;
  }
  return out;
}

class BatchWriterTest : public testing::ClickHouseTest {
 protected:
  // Per series id: the sum of the records' counts and sums, computed here from the batches.
  static std::map<std::uint64_t, std::pair<std::uint64_t, double>> expected(
      const std::vector<wire::WindowBatch>& batches) {
    std::map<std::uint64_t, std::pair<std::uint64_t, double>> out;
    for (const auto& b : batches) {
      for (const auto& r : b.records) {
        auto& e = out[series_id("t1", r.key)];
        e.first += r.agg.count();
        e.second += r.agg.sum();
      }
    }
    return out;
  }
  std::map<std::uint64_t, std::pair<std::uint64_t, double>> stored_final() {
    const std::string final = "FINAL";
    std::map<std::uint64_t, std::pair<std::uint64_t, double>> out;
    std::istringstream in(
        tsv("SELECT series_id, sum(count), sum(sum) FROM edgesketch.windows_10s " + final +
            " GROUP BY series_id"));
    std::uint64_t id = 0, count = 0;
    double sum = 0;
    while (in >> id >> count >> sum) out[id] = {count, sum};
    return out;
  }
};

TEST_F(BatchWriterTest, RowsReadBackExactly) {
  std::mt19937_64 rng(7);
  wire::WindowBatch b = make_batch(rng, "gw-1", 1, 40, 5, 4, /*sketches=*/true);
  BatchWriter writer(*client_, schema_);
  Status s = writer.write("t1", b, 1'700'000'000'000);
  ASSERT_TRUE(s.ok()) << s.to_string();

  EXPECT_EQ(tsv("SELECT count() FROM edgesketch.windows_10s"), "40\n");
  EXPECT_EQ(tsv("SELECT tenant, gateway_id, seq, records, stored_ms FROM edgesketch.batches"),
            "t1\tgw-1\t1\t40\t1700000000000\n");
  // Every record: scalars exact, sketches byte for byte, the series in the catalog.
  for (std::size_t i = 0; i < b.records.size(); ++i) {
    const wire::WindowRecord& r = b.records[i];
    const std::uint64_t id = series_id("t1", r.key);
    std::ostringstream want;
    want.precision(17);
    want << id << '\t' << r.window_start_ms << '\t' << r.window_ms << '\t' << r.agg.count() << '\t'
         << hex(r.agg.histogram()->serialize()) << '\t' << hex(r.agg.distinct()->serialize())
         << '\t' << hex(r.agg.topk()->serialize()) << "\tcode\tcode\n";
    EXPECT_EQ(tsv("SELECT series_id, window_start, window_ms, count, hex(hist), hex(hll), "
                  "hex(topk), distinct_of, topk_of FROM edgesketch.windows_10s WHERE record = " +
                  std::to_string(i)),
              want.str())
        << i;
    // sum, min, max as stored, bit for bit (RowBinary: their IEEE bytes, little-endian).
    Bytes scalars;
    put_f64(scalars, r.agg.sum());
    put_f64(scalars, r.agg.min());
    put_f64(scalars, r.agg.max());
    auto raw = client_->query("SELECT sum, min, max FROM edgesketch.windows_10s WHERE record = " +
                              std::to_string(i) + " FORMAT RowBinary");
    ASSERT_TRUE(raw.ok()) << raw.status().to_string();
    EXPECT_EQ(*raw, std::string(scalars.begin(), scalars.end())) << i;
    std::string labels;
    for (const auto& t : r.key.tags) labels += (labels.empty() ? "" : ",") + t.key + "=" + t.value;
    EXPECT_EQ(
        tsv("SELECT metric, arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), "
            "label_names, label_values), ',') FROM edgesketch.series FINAL WHERE series_id = " +
            std::to_string(id)),
        r.key.metric + "\t" + labels + "\n");
  }
}

TEST_F(BatchWriterTest, ABatchWrittenTwiceOrPartlyThenWholeCountsOnce) {
  std::mt19937_64 rng(11);
  std::vector<wire::WindowBatch> batches;
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    batches.push_back(make_batch(rng, "gw-1", seq, 30, 6, 3));
  }
  BatchWriter writer(*client_, schema_);
  for (const auto& b : batches) ASSERT_TRUE(writer.write("t1", b, 0).ok());
  // A redelivery of batch 2 (to this collector or another) and a retried insert of batch 4's
  // window rows alone (as when an answer was lost after the catalog insert).
  ASSERT_TRUE(writer.write("t1", batches[1], 0).ok());
  const BatchRows rows = encode_batch_rows("t1", batches[3], 0);
  ASSERT_TRUE(client_->insert(windows_insert("edgesketch", 10'000), rows.windows).ok());

  const auto want = expected(batches);
  const auto with_final = stored_final();
  ASSERT_EQ(with_final.size(), want.size());
  for (const auto& [id, e] : want) {
    ASSERT_TRUE(with_final.count(id)) << id;
    EXPECT_EQ(with_final.at(id).first, e.first) << id;
    EXPECT_NEAR(with_final.at(id).second, e.second, 1e-6 * std::abs(e.second)) << id;
  }
  // (Without FINAL the repeats stay until ClickHouse's background merges drop them, at a time of
  // its choosing: what a query sees then is not defined, so every read goes through FINAL.)
  EXPECT_EQ(tsv("SELECT count() FROM edgesketch.batches FINAL"), "5\n");
}

TEST_F(BatchWriterTest, SeriesIdsDependOnTenantAndEveryPartOfTheKey) {
  wire::SeriesKey a{.metric = "vibration", .tags = {{"device", "d1"}, {"site", "s1"}}};
  wire::SeriesKey b = a;
  b.tags[1].value = "s2";
  wire::SeriesKey c{.metric = "vibration", .tags = {{"device", "d1s"}, {"ite", "s1"}}};
  EXPECT_EQ(series_id("t", a), series_id("t", a));
  EXPECT_NE(series_id("t", a), series_id("u", a));
  EXPECT_NE(series_id("t", a), series_id("t", b));
  EXPECT_NE(series_id("t", a), series_id("t", c));  // lengths keep the parts apart
}

}  // namespace
}  // namespace edgesketch::clickhouse
