// The record file: round trip, hostile input, and determinism (same seed -> same bytes).
#include <gtest/gtest.h>

#include <fstream>

#include "decoded_message.h"
#include "record_format.h"
#include "record_reader.h"
#include "record_writer.h"
#include "sim_fixtures.h"

namespace edgesketch::sim {
namespace {

using test::read_file;
using test::temp_path;

void write_sample_record(const std::string& path) {
  auto w = RecordWriter::create(path);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  (*w)->define_metric(0, "temperature", false);
  (*w)->define_metric(4, "event", true);
  (*w)->define_device(0, "dev-0000", {{"site", "site-00"}, {"line", "line-0"}});
  (*w)->define_device(1, "dev-0001", {{"site", "site-01"}, {"line", "line-0"}});
  (*w)->define_label(17, "E017");
  std::vector<RecordedReading> a = {{0, 1000, 21.5, 0}, {0, 900, -3.25, 0}, {4, 5000, 0, 17}};
  (*w)->add_message({0, 1, 1200, 0}, a);
  std::vector<RecordedReading> b = {{0, -7, 1e300, 0}};
  (*w)->add_message({1, 9, 0, record::kFlagDuplicate | record::kFlagLate}, b);
  ASSERT_TRUE((*w)->finish().ok());
}

TEST(RecordTest, RoundTripKeepsEveryField) {
  const std::string path = temp_path("roundtrip.rec");
  write_sample_record(path);
  auto r = RecordReader::open(path);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  RecordMessage m;
  auto more = (*r)->next(m);
  ASSERT_TRUE(more.ok() && *more);
  EXPECT_EQ(m.header.device_id, 0u);
  EXPECT_EQ(m.header.batch_seq, 1u);
  EXPECT_EQ(m.header.sent_ms, 1200);
  ASSERT_EQ(m.readings.size(), 3u);
  EXPECT_EQ(m.readings[1].ts_ms, 900);
  EXPECT_EQ(m.readings[1].value, -3.25);
  EXPECT_EQ(m.readings[2].metric_id, 4u);
  EXPECT_EQ(m.readings[2].label_id, 17u);
  EXPECT_EQ((*r)->labels()[17], "E017");
  EXPECT_EQ((*r)->devices()[1].tags[0].second, "site-01");
  more = (*r)->next(m);
  ASSERT_TRUE(more.ok() && *more);
  EXPECT_EQ(m.header.flags, record::kFlagDuplicate | record::kFlagLate);
  EXPECT_EQ(m.readings[0].ts_ms, -7);
  EXPECT_EQ(m.readings[0].value, 1e300);
  more = (*r)->next(m);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
}

TEST(RecordTest, HeaderBytesAreDocumentedLayout) {
  const std::string path = temp_path("header.rec");
  write_sample_record(path);
  std::string bytes = read_file(path);
  ASSERT_GE(bytes.size(), 16u);
  EXPECT_EQ(bytes.substr(0, 8), "ESSIMREC");
  EXPECT_EQ(bytes[8], 1);  // version, little-endian u16
  EXPECT_EQ(bytes[9], 0);
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[16]),
            static_cast<std::uint8_t>(record::EntryKind::kMetric));
}

TEST(RecordTest, UnfinishedWriterLeavesNoFile) {
  const std::string path = temp_path("unfinished.rec");
  {
    auto w = RecordWriter::create(path);
    ASSERT_TRUE(w.ok());
    (*w)->define_metric(0, "temperature", false);
  }
  EXPECT_FALSE(std::ifstream(path).good());
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
}

Status read_all(const std::string& path) {
  ES_ASSIGN_OR_RETURN(auto r, RecordReader::open(path));
  RecordMessage m;
  for (;;) {
    ES_ASSIGN_OR_RETURN(bool more, r->next(m));
    if (!more) return Status();
  }
}

TEST(RecordTest, TruncatedOrDamagedFilesAreCorruption) {
  const std::string path = temp_path("damaged.rec");
  write_sample_record(path);
  const std::string good = read_file(path);
  ASSERT_TRUE(read_all(path).ok());
  // Every strict prefix is rejected (never crashes, never reads past the end).
  for (std::size_t n = 0; n < good.size(); ++n) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << good.substr(0, n);
    Status s = read_all(path);
    EXPECT_FALSE(s.ok()) << "prefix of " << n << " bytes was accepted";
  }
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bad_magic;
  EXPECT_EQ(read_all(path).code(), StatusCode::kCorruption);
  std::string trailing = good + "x";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << trailing;
  EXPECT_EQ(read_all(path).code(), StatusCode::kCorruption);
  // Flipping any single byte never crashes the reader.
  for (std::size_t i = 16; i < good.size(); ++i) {
    std::string flipped = good;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << flipped;
    (void)read_all(path);
  }
}

TEST(RecordTest, SameSeedGivesByteIdenticalRecord) {
  FaultOptions faults;
  faults.skew_ratio = 0.3;
  faults.skew_ms = 2000;
  faults.duplicate_ratio = 0.05;
  faults.late_ratio = 0.02;
  faults.late_ms = 3000;
  faults.offline_ratio = 0.01;
  faults.offline_ms = 2000;
  faults.malformed_ratio = 0.02;
  RunOptions run;
  run.speed = 0;
  const std::string a = temp_path("seed-a.rec");
  const std::string b = temp_path("seed-b.rec");
  const std::string c = temp_path("seed-c.rec");
  NullTransport t1, t2, t3;
  ASSERT_TRUE(test::simulate(test::small_fleet(5), faults, run, t1, a).ok());
  ASSERT_TRUE(test::simulate(test::small_fleet(5), faults, run, t2, b).ok());
  ASSERT_TRUE(test::simulate(test::small_fleet(6), faults, run, t3, c).ok());
  const std::string bytes_a = read_file(a);
  EXPECT_GT(bytes_a.size(), 10'000u);
  EXPECT_EQ(bytes_a, read_file(b));
  EXPECT_NE(bytes_a, read_file(c));
}

TEST(RecordTest, TickSizeChangesOnlyTheInterleaving) {
  // Different loop steps may interleave devices differently, but each device's own messages are
  // the same.
  RunOptions fine, coarse;
  fine.speed = coarse.speed = 0;
  fine.tick_ms = 10;
  coarse.tick_ms = 1000;
  const std::string a = temp_path("tick-fine.rec");
  const std::string b = temp_path("tick-coarse.rec");
  NullTransport t1, t2;
  ASSERT_TRUE(test::simulate(test::small_fleet(), {}, fine, t1, a).ok());
  ASSERT_TRUE(test::simulate(test::small_fleet(), {}, coarse, t2, b).ok());
  auto ma = test::read_record_messages(a);
  auto mb = test::read_record_messages(b);
  ASSERT_TRUE(ma.ok() && mb.ok());
  auto by_device = [](std::vector<test::DecodedMessage> v) {
    std::stable_sort(v.begin(), v.end(),
                     [](const auto& x, const auto& y) { return x.device_id < y.device_id; });
    return v;
  };
  EXPECT_EQ(by_device(*ma), by_device(*mb));
}

}  // namespace
}  // namespace edgesketch::sim
