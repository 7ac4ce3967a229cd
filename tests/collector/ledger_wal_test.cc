// The dedupe ledger's interval sets and the WAL's replay, torn-tail truncation and group commit.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "dedupe_ledger.h"
#include "store_test_util.h"
#include "wal.h"

namespace edgesketch::store {
namespace {

TEST(StoreLedgerTest, IntervalsMergeAndEncode) {
  DedupeLedger l;
  std::mt19937_64 rng(5);
  std::vector<std::uint64_t> seqs(500);
  for (std::size_t i = 0; i < seqs.size(); ++i) seqs[i] = i + 1;
  std::shuffle(seqs.begin(), seqs.end(), rng);
  for (std::size_t i = 0; i < 400; ++i) l.insert("t", "gw", seqs[i]);
  for (std::size_t i = 0; i < 500; ++i) {
    EXPECT_EQ(l.contains("t", "gw", seqs[i]), i < 400) << seqs[i];
  }
  EXPECT_FALSE(l.contains("t", "gw2", seqs[0]));
  EXPECT_FALSE(l.contains("u", "gw", seqs[0]));
  Bytes b;
  l.encode(b);
  auto d = DedupeLedger::decode(b);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(*d == l);
  for (std::size_t i = 400; i < 500; ++i) l.insert("t", "gw", seqs[i]);
  Bytes full;
  l.encode(full);
  EXPECT_LT(full.size(), 20u);  // one interval
  for (std::size_t n = 0; n < b.size(); ++n) {
    auto bad = DedupeLedger::decode(ByteSpan(b).first(n));
    (void)bad;  // must not crash; most prefixes fail
  }
}

TEST(StoreLedgerTest, BoundedIntervalsCountForcedGaps) {
  DedupeLedger l(4);
  for (std::uint64_t s = 0; s < 20; s += 2) l.insert("t", "g", s);
  EXPECT_EQ(l.forced_gaps(), 6u);
  EXPECT_TRUE(l.contains("t", "g", 1));    // declared applied
  EXPECT_FALSE(l.contains("t", "g", 17));  // recent gaps stay open
}

TEST(StoreWalTest, ReplaysTruncatesTornTailAndGroupsCommits) {
  testing::TempDir dir;
  WalOptions o;
  o.dir = dir.path() + "/wal";
  std::vector<std::string> seen;
  auto replay = [&](std::string_view tenant, ByteSpan b) {
    seen.push_back(std::string(tenant) + ":" + std::string(b.begin(), b.end()));
    return Status();
  };
  {
    WalReplayReport rep;
    auto wal = Wal::open(o, 1, replay, rep);
    ASSERT_TRUE(wal.ok());
    std::uint64_t last = 0;
    for (int i = 0; i < 200; ++i) {
      std::string payload = "batch-" + std::to_string(i);
      auto lsn = (*wal)->append(
          "acme", ByteSpan(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()));
      ASSERT_TRUE(lsn.ok());
      last = *lsn;
    }
    ASSERT_TRUE((*wal)->wait_durable(last).ok());
    EXPECT_LT((*wal)->fsyncs(), 200u);  // group commit: far fewer fsyncs than appends
  }
  auto segs = testing::find_files(o.dir, ".wal");
  ASSERT_FALSE(segs.empty());
  // Tear the last record: cut 3 bytes, then add garbage.
  std::string data = testing::read_all(segs.back());
  testing::write_all(segs.back(), data.substr(0, data.size() - 3) + "garbage");
  WalReplayReport rep;
  auto wal = Wal::open(o, 1, replay, rep);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(rep.records, 199u);
  EXPECT_GT(rep.torn_bytes, 0u);
  ASSERT_EQ(seen.size(), 199u);
  EXPECT_EQ(seen[0], "acme:batch-0");
  EXPECT_EQ(seen[198], "acme:batch-198");
  // Rotation and truncation.
  auto seg = (*wal)->rotate();
  ASSERT_TRUE(seg.ok());
  ASSERT_TRUE((*wal)->remove_segments_before(*seg).ok());
  EXPECT_EQ((*wal)->segments(), 1u);
}

}  // namespace
}  // namespace edgesketch::store
