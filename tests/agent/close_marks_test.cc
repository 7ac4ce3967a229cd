// Close marks: golden bytes, round trip, hostile input; and the replay fence that uses them so a
// journal record feeding two windows is counted once across a crash.
#include "window/close_marks.h"

#include <gtest/gtest.h>

#include "edgesketch/common/clock.h"
#include "window/aggregator.h"

namespace edgesketch::agent {
namespace {

TEST(CloseMarksTest, GoldenBytes) {
  const std::vector<CloseMark> marks = {{0x0102030405060708ull, -1, 1}, {0, 10'000, 300}};
  const Bytes want = {0x01, 0x02,                                            // version, count
                      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x01,  // hash, start -1
                      0x01,                                                  // fed_upto 1
                      0,    0,    0,    0,    0,    0,    0,    0,    0xa0,
                      0x9c, 0x01,   // hash 0, 10000
                      0xac, 0x02};  // 300
  EXPECT_EQ(encode_close_marks(marks), want);
  auto back = decode_close_marks(want);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, marks);
  EXPECT_TRUE(decode_close_marks(encode_close_marks({})).ok());
}

TEST(CloseMarksTest, RejectsHostileInput) {
  const Bytes good = encode_close_marks(std::vector<CloseMark>{{1, 2, 3}, {4, 5, 6}});
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(decode_close_marks(ByteSpan(good.data(), n)).ok()) << n;
  }
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_FALSE(decode_close_marks(trailing).ok());
  Bytes version = good;
  version[0] = 2;
  EXPECT_FALSE(decode_close_marks(version).ok());
  const Bytes huge_count = {0x01, 0xff, 0xff, 0xff, 0xff, 0x0f};
  EXPECT_EQ(decode_close_marks(huge_count).status().code(), StatusCode::kCorruption);
  const Bytes zero_fed = encode_close_marks(std::vector<CloseMark>{{1, 2, 0}});
  EXPECT_FALSE(decode_close_marks(zero_fed).ok());
}

wire::Reading reading(std::int64_t ts, double v) {
  wire::Reading r;
  r.device_id = "d1";
  r.metric = "m";
  r.ts_ms = ts;
  r.value = v;
  return r;
}

TEST(ReplayFenceTest, RecordSpanningTwoWindowsIsCountedOnceAcrossACrash) {
  constexpr std::int64_t kT0 = 1'700'000'000'000;
  FakeClock clock(kT0 + 20'000);
  AggregatorOptions o;
  o.gateway_id = "gw";
  o.clock = &clock;
  const std::vector<std::vector<wire::Reading>> journal = {
      {reading(kT0 + 1'000, 1), reading(kT0 + 9'900, 2), reading(kT0 + 10'500, 4)},  // record 1
      {reading(kT0 + 16'000, 8)},                                                    // record 2
  };
  std::uint64_t committed_count = 0;
  double committed_sum = 0;
  auto commit = [&](ClosedBatches b) {
    for (const auto& batch : b.batches) {
      for (const auto& r : batch.records) {
        committed_count += r.agg.count();
        committed_sum += r.agg.sum();
      }
    }
    return b;
  };
  // Before the crash: both records fed, window [0, 10 s) closed and committed.
  auto a = std::move(Aggregator::create(o)).value();
  a->add(journal[0], 1);
  a->add(journal[1], 2);
  ClosedBatches first = commit(a->take_batches());
  ASSERT_EQ(committed_count, 2u);
  EXPECT_EQ(first.journal_upto, 0u);  // record 1 still feeds the open window [10 s, 20 s)
  ASSERT_EQ(first.marks.size(), 1u);  // one batch
  ASSERT_EQ(first.marks[0].size(), 1u);
  EXPECT_EQ(first.marks[0][0].window_start_ms, kT0);
  EXPECT_EQ(first.marks[0][0].fed_upto, 1u);
  const Bytes persisted = encode_close_marks(first.marks[0]);

  // Crash; a new aggregator replays everything above journal_upto with the fence set.
  auto b = std::move(Aggregator::create(o)).value();
  auto marks = decode_close_marks(persisted);
  ASSERT_TRUE(marks.ok());
  b->set_replay_fence(*marks);
  for (std::uint64_t rec = first.journal_upto + 1; rec <= journal.size(); ++rec) {
    b->add(journal[rec - 1], rec);
  }
  b->clear_replay_fence();
  EXPECT_EQ(b->stats().replay_skipped, 2u);
  b->flush_all();
  commit(b->take_batches());
  EXPECT_EQ(committed_count, 4u);
  EXPECT_EQ(committed_sum, 15.0);
}

}  // namespace
}  // namespace edgesketch::agent
