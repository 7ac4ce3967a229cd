// The dedupe ledger's interval sets and the WAL's replay, torn-tail truncation and group commit.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>

#include "collector/store_test_util.h"
#include "dedupe_ledger.h"
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
  DedupeLedger l(LedgerLimits{4});
  for (std::uint64_t s = 0; s < 20; s += 2) l.insert("t", "g", s);
  EXPECT_EQ(l.forced_gaps(), 6u);
  EXPECT_TRUE(l.contains("t", "g", 1));    // declared applied
  EXPECT_FALSE(l.contains("t", "g", 17));  // recent gaps stay open
}

// The reproduction of a poisoned ledger: seq 0 and thousands of isolated seqs at or above 2^63
// made the forced join of the two lowest intervals cover every seq the real agent would send.
TEST(StoreLedgerTest, HostileSeqsCannotMakeFutureSeqsLookApplied) {
  DedupeLedger l;
  const std::uint64_t agent = std::uint64_t{1} << 40;  // a real agent's run
  for (std::uint64_t s = agent; s < agent + 10; ++s) l.insert("t", "gw", s);
  EXPECT_FALSE(l.check("t", "gw", 0).ok());
  EXPECT_NE(l.check("t", "gw", 0).message().find("[seq_out_of_range]"), std::string::npos);
  EXPECT_FALSE(l.check("t", "gw", std::uint64_t{1} << 63).ok());
  EXPECT_FALSE(l.check("t", "gw", ~std::uint64_t{0}).ok());
  // Isolated seqs far from everything: each starts a run, up to max_runs, then refused.
  std::size_t accepted = 0;
  for (std::uint64_t i = 0; i < 4200; ++i) {
    const std::uint64_t s = (std::uint64_t{1} << 62) + i * (std::uint64_t{1} << 30);
    if (l.check("t", "gw", s).ok()) {
      l.insert("t", "gw", s);
      ++accepted;
    }
  }
  EXPECT_EQ(accepted, LedgerLimits{}.max_runs - 1);
  // The agent's next batches are new, and plausible.
  for (std::uint64_t s = agent + 10; s < agent + 30; ++s) {
    EXPECT_FALSE(l.contains("t", "gw", s)) << s;
    EXPECT_TRUE(l.check("t", "gw", s).ok()) << s;
  }
  EXPECT_EQ(l.forced_gaps(), 0u);
  // Another gateway is not affected at all.
  EXPECT_TRUE(l.check("t", "gw2", agent).ok());
}

// Holes inside a run are joined smallest first, within the run, never past its highest seq.
TEST(StoreLedgerTest, ForcedJoinsStayInsideARunAndBelowItsHighestSeq) {
  LedgerLimits lim;
  lim.max_intervals = 8;
  DedupeLedger l(lim);
  // A run with holes of growing size: 100, 102, 105, 109, ... (gap i+1 before the i-th seq).
  std::uint64_t s = 100;
  std::vector<std::uint64_t> applied;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(l.check("t", "g", s).ok());
    l.insert("t", "g", s);
    applied.push_back(s);
    s += static_cast<std::uint64_t>(i) + 2;
  }
  EXPECT_EQ(l.forced_gaps(), 12u);
  for (std::uint64_t a : applied) EXPECT_TRUE(l.contains("t", "g", a));
  // The largest holes (the newest ones) stay open; nothing above the highest seq is covered.
  EXPECT_FALSE(l.contains("t", "g", applied.back() - 1));
  EXPECT_FALSE(l.contains("t", "g", applied.back() + 1));
  // The smallest holes (the oldest) were declared applied.
  EXPECT_TRUE(l.contains("t", "g", 101));
  // A second run far away is joined with nothing of the first.
  const std::uint64_t run2 = std::uint64_t{1} << 45;
  ASSERT_TRUE(l.check("t", "g", run2).ok());
  l.insert("t", "g", run2);
  ASSERT_TRUE(l.check("t", "g", run2 + 5).ok());
  l.insert("t", "g", run2 + 5);
  EXPECT_FALSE(l.contains("t", "g", run2 - 1));
  EXPECT_FALSE(l.contains("t", "g", (applied.back() + run2) / 2));
}

// Damage inside a closed segment (one that a later segment follows) is not a torn write: the
// segment is replayed up to the damage, moved to quarantine and reported, never cut.
TEST(StoreWalTest, DamagedClosedSegmentIsQuarantinedNotCut) {
  testing::TempDir dir;
  WalOptions o;
  o.dir = dir.path() + "/wal";
  o.quarantine_dir = dir.path() + "/quarantine";
  std::vector<std::string> seen;
  auto replay = [&](std::string_view, ByteSpan b) {
    seen.emplace_back(b.begin(), b.end());
    return Status();
  };
  auto put = [](Wal& w, const std::string& p) {
    return w.append("t", ByteSpan(reinterpret_cast<const std::uint8_t*>(p.data()), p.size()));
  };
  {
    WalReplayReport rep;
    auto wal = Wal::open(o, 1, replay, rep);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(put(**wal, "first-" + std::to_string(i)).ok());
    ASSERT_TRUE((*wal)->rotate().ok());
    std::uint64_t last = 0;
    for (int i = 0; i < 5; ++i) last = *put(**wal, "second-" + std::to_string(i));
    ASSERT_TRUE((*wal)->wait_durable(last).ok());
  }
  auto segs = testing::find_files(o.dir, ".wal");
  ASSERT_GE(segs.size(), 2u);
  std::sort(segs.begin(), segs.end());
  const std::string closed = segs.front();
  std::string data = testing::read_all(closed);
  const std::size_t size = data.size();
  data[size / 2] ^= 0x5a;  // inside a middle record
  testing::write_all(closed, data);

  WalReplayReport rep;
  auto wal = Wal::open(o, 1, replay, rep);
  ASSERT_TRUE(wal.ok()) << wal.status().to_string();
  EXPECT_EQ(rep.segments_quarantined, 1u);
  EXPECT_EQ(rep.torn_bytes, 0u);
  const std::string moved = o.quarantine_dir + "/" + closed.substr(closed.rfind('/') + 1);
  EXPECT_EQ(testing::read_all(moved).size(), size);  // kept whole for inspection
  std::size_t first = 0, second = 0;
  for (const auto& s : seen) (s.rfind("first-", 0) == 0 ? first : second) += 1;
  EXPECT_GT(first, 0u);
  EXPECT_LT(first, 10u);
  EXPECT_EQ(second, 5u);
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
