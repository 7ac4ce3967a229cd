// ReadingRing: order, chunk recycling, counted drops and blocking backpressure across threads.
#include "ring/reading_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace edgesketch::agent {
namespace {

std::unique_ptr<ReadingChunk> chunk(ReadingRing& ring, std::uint64_t record, int readings) {
  auto c = ring.acquire();
  c->record_no = record;
  for (int i = 0; i < readings; ++i) c->readings.append().ts_ms = i;
  return c;
}

TEST(ReadingRingTest, FifoAndRecycling) {
  ReadingRing ring(4);
  EXPECT_TRUE(ring.try_push(chunk(ring, 1, 2)));
  EXPECT_TRUE(ring.try_push(chunk(ring, 2, 3)));
  EXPECT_EQ(ring.fill(), 2u);
  auto a = ring.pop();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->record_no, 1u);
  EXPECT_EQ(a->readings.size(), 2u);
  ReadingChunk* raw = a.get();
  ring.release(std::move(a));
  auto again = ring.acquire();
  EXPECT_EQ(again.get(), raw);  // recycled, emptied
  EXPECT_TRUE(again->readings.empty());
  EXPECT_EQ(again->record_no, 0u);
  EXPECT_EQ(ring.pop()->record_no, 2u);
  EXPECT_EQ(ring.pop(), nullptr);
  ReadingRingStats s = ring.stats();
  EXPECT_EQ(s.pushed_chunks, 2u);
  EXPECT_EQ(s.pushed_readings, 5u);
  EXPECT_EQ(s.fill, 0u);
  EXPECT_EQ(s.capacity, 4u);
}

TEST(ReadingRingTest, TryPushCountsDropsWhenFull) {
  ReadingRing ring(2);
  EXPECT_TRUE(ring.try_push(chunk(ring, 1, 1)));
  EXPECT_TRUE(ring.try_push(chunk(ring, 2, 1)));
  EXPECT_FALSE(ring.try_push(chunk(ring, 3, 7)));
  ReadingRingStats s = ring.stats();
  EXPECT_EQ(s.dropped_chunks, 1u);
  EXPECT_EQ(s.dropped_readings, 7u);
  EXPECT_EQ(s.fill, 2u);
}

TEST(ReadingRingTest, BlockingPushWaitsForTheConsumer) {
  ReadingRing ring(8);
  std::atomic<bool> stop{false};
  constexpr std::uint64_t kChunks = 20'000;
  std::thread producer([&] {
    for (std::uint64_t i = 1; i <= kChunks; ++i) {
      ASSERT_TRUE(ring.push_blocking(chunk(ring, i, 1), stop));
    }
  });
  std::uint64_t expected = 1;
  while (expected <= kChunks) {
    auto c = ring.pop();
    if (!c) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(c->record_no, expected);
    ++expected;
    ring.release(std::move(c));
  }
  producer.join();
  EXPECT_EQ(ring.stats().pushed_chunks, kChunks);
  EXPECT_EQ(ring.stats().dropped_chunks, 0u);
}

TEST(ReadingRingTest, BlockingPushGivesUpOnStop) {
  ReadingRing ring(1);
  std::atomic<bool> stop{true};
  EXPECT_TRUE(ring.push_blocking(chunk(ring, 1, 1), stop));  // room: no wait
  EXPECT_FALSE(ring.push_blocking(chunk(ring, 2, 1), stop));
  EXPECT_EQ(ring.stats().blocked_pushes, 1u);
}

}  // namespace
}  // namespace edgesketch::agent
