// The ClickHouse store's tables on a real server: created once however often init runs, checked
// column by column, and refused when they differ or are newer than this collector.
#include "edgesketch/clickhouse/schema.h"

#include <gtest/gtest.h>

#include "collector/clickhouse/clickhouse_fixture.h"

namespace edgesketch::clickhouse {
namespace {

// Each test makes (or breaks) the tables itself.
class ClickHouseSchemaTest : public testing::ClickHouseTest {
 protected:
  ClickHouseSchemaTest() : ClickHouseTest(/*tables=*/false) {}
};

TEST_F(ClickHouseSchemaTest, InitCreatesEveryTableOnceAndChecksThem) {
  SchemaOptions o{.database = "es_fleet"};
  EXPECT_EQ(check_schema(*client_, o).code(), StatusCode::kFailedPrecondition);
  for (int i = 0; i < 3; ++i) {
    Status s = init_schema(*client_, o);
    ASSERT_TRUE(s.ok()) << i << ": " << s.to_string();
  }
  EXPECT_TRUE(check_schema(*client_, o).ok());
  EXPECT_EQ(tsv("SELECT name FROM system.tables WHERE database = 'es_fleet' ORDER BY name"),
            "batches\nschema_version\nseries\nwindows_10s\nwindows_1h\nwindows_1m\n");
  EXPECT_EQ(tsv("SELECT count(), max(version) FROM es_fleet.schema_version"), "1\t1\n");
  EXPECT_EQ(tsv("SELECT engine, partition_key, sorting_key FROM system.tables "
                "WHERE database = 'es_fleet' AND name = 'windows_1m'"),
            "ReplacingMergeTree\ttoDate(toDateTime(intDiv(window_start, 1000)))\t"
            "tenant, metric, series_id, window_start, gateway_id, seq, record\n");
}

TEST_F(ClickHouseSchemaTest, ARedeliveredWindowRowCountsOnceThroughFinal) {
  SchemaOptions o;
  ASSERT_TRUE(init_schema(*client_, o).ok());
  const std::string row =
      "INSERT INTO edgesketch.windows_10s (tenant, metric, series_id, window_start, window_ms, "
      "gateway_id, seq, record, count, sum, min, max) VALUES "
      "('t', 'vibration', 42, 1704067200000, 10000, 'gw-1', 7, 3, 1000, 512.5, 0.1, 9.5)";
  ASSERT_TRUE(client_->execute(row).ok());
  ASSERT_TRUE(client_->execute(row).ok());  // the same record, delivered again
  EXPECT_EQ(tsv("SELECT sum(count) FROM edgesketch.windows_10s"), "2000\n");
  EXPECT_EQ(tsv("SELECT sum(count), sum(sum) FROM edgesketch.windows_10s FINAL"), "1000\t512.5\n");
}

TEST_F(ClickHouseSchemaTest, TiersNameTheirTables) {
  EXPECT_EQ(tier_table(10'000), "windows_10s");
  EXPECT_EQ(tier_table(60'000), "windows_1m");
  EXPECT_EQ(tier_table(3'600'000), "windows_1h");
  EXPECT_EQ(tier_table(86'400'000), "windows_1d");
  EXPECT_EQ(tier_table(300'000), "windows_5m");
  EXPECT_EQ(tier_table(1'500), "windows_1500ms");
  SchemaOptions o{.database = "custom", .tiers_ms = {5'000, 300'000}};
  ASSERT_TRUE(init_schema(*client_, o).ok());
  EXPECT_EQ(tsv("SELECT name FROM system.tables WHERE database = 'custom' AND name LIKE "
                "'windows%' ORDER BY name"),
            "windows_5m\nwindows_5s\n");
}

TEST_F(ClickHouseSchemaTest, ADifferentTableIsRefusedByName) {
  ASSERT_TRUE(client_->execute("CREATE DATABASE edgesketch").ok());
  ASSERT_TRUE(client_
                  ->execute("CREATE TABLE edgesketch.series (tenant String, series_id UInt32) "
                            "ENGINE = MergeTree ORDER BY tenant")
                  .ok());
  Status s = init_schema(*client_, SchemaOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("edgesketch.series.series_id is UInt32, not UInt64"),
            std::string::npos)
      << s.message();
}

TEST_F(ClickHouseSchemaTest, ANewerSchemaIsRefused) {
  SchemaOptions o;
  ASSERT_TRUE(init_schema(*client_, o).ok());
  ASSERT_TRUE(client_
                  ->execute("INSERT INTO edgesketch.schema_version (version, applied_ms, by) "
                            "VALUES (" +
                            std::to_string(kSchemaVersion + 1) + ", 0, 'a newer collector')")
                  .ok());
  Status s = check_schema(*client_, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("upgrade the collector"), std::string::npos) << s.message();
  EXPECT_FALSE(init_schema(*client_, o).ok());
}

}  // namespace
}  // namespace edgesketch::clickhouse
