// ReadingRing: order, chunk recycling, counted drops and blocking backpressure across threads;
// the byte bound (ring_bytes) and the free list's budget.
#include "ring/reading_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace edgesketch::agent {
namespace {

std::unique_ptr<ReadingChunk> chunk(ReadingRing& ring, std::uint64_t record, int readings) {
  auto c = ring.acquire();
  c->record_no = record;
  for (int i = 0; i < readings; ++i) c->readings.append().ts_ms = i;
  return c;
}

// A chunk of `readings` readings whose strings and tags live on the heap (as a parsed line
// protocol payload's do): a metric past the small-string buffer and two tags.
std::unique_ptr<ReadingChunk> heavy_chunk(ReadingRing& ring, std::uint64_t record, int readings) {
  auto c = ring.acquire();
  c->record_no = record;
  for (int i = 0; i < readings; ++i) {
    wire::Reading& r = c->readings.append();
    r.device_id = "d0042";
    r.metric = "iot_temperature_of_the_boiler_room";
    r.tags = {{"line", "l1"}, {"site", "s1"}};
    r.ts_ms = i;
  }
  return c;
}

TEST(ReadingBufferTest, HeapBytesCountSlotsStringsAndTags) {
  ReadingBuffer buf;
  EXPECT_EQ(buf.heap_bytes(), 0u);
  buf.append().metric = "t";  // fits in the string object
  const std::size_t one = buf.heap_bytes();
  EXPECT_GE(one, sizeof(wire::Reading));
  buf[0].metric = std::string(100, 'm');
  EXPECT_GE(buf.heap_bytes(), one + 101);
  buf[0].tags = {{std::string(40, 'k'), std::string(60, 'v')}};
  const std::size_t tagged = buf.heap_bytes();
  EXPECT_GE(tagged, one + 101 + sizeof(wire::Tag) + 41 + 61);
  // clear() keeps the storage and so its bytes; release_storage() frees it.
  buf.clear();
  EXPECT_EQ(buf.heap_bytes(), tagged);
  buf.release_storage();
  EXPECT_EQ(buf.heap_bytes(), 0u);
  EXPECT_TRUE(buf.empty());
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

TEST(ReadingRingTest, TryPushRefusesPastTheByteBoundAndTakesAgainAfterRelease) {
  ReadingRing probe(8);
  const std::size_t one = ReadingRing::chunk_bytes(*heavy_chunk(probe, 0, 100));
  // Room for two such chunks, not three, in bytes; plenty of slots.
  ReadingRing ring(64, one * 2 + one / 2);
  EXPECT_TRUE(ring.has_room(one));
  EXPECT_TRUE(ring.try_push(heavy_chunk(ring, 1, 100)));
  EXPECT_TRUE(ring.try_push(heavy_chunk(ring, 2, 100)));
  EXPECT_EQ(ring.bytes(), 2 * one);
  EXPECT_FALSE(ring.has_room(one));
  EXPECT_FALSE(ring.try_push(heavy_chunk(ring, 3, 100)));
  ReadingRingStats s = ring.stats();
  EXPECT_EQ(s.dropped_chunks, 1u);
  EXPECT_EQ(s.dropped_readings, 100u);
  EXPECT_EQ(s.fill, 2u);
  // A popped chunk still counts while the consumer works on it; its release frees the room.
  auto a = ring.pop();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->record_no, 1u);
  EXPECT_FALSE(ring.has_room(one));
  ring.release(std::move(a));
  EXPECT_EQ(ring.bytes(), one);
  EXPECT_TRUE(ring.has_room(one));
  EXPECT_TRUE(ring.try_push(heavy_chunk(ring, 4, 100)));
  // A small chunk still fits beside them.
  EXPECT_TRUE(ring.try_push(chunk(ring, 5, 1)));
  for (std::uint64_t want : {2u, 4u, 5u}) {
    auto c = ring.pop();
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->record_no, want);
    ring.release(std::move(c));
  }
  EXPECT_EQ(ring.bytes(), 0u);
  EXPECT_EQ(ring.stats().pushed_chunks, 4u);
}

TEST(ReadingRingTest, BlockingPushWaitsForBytesNotOnlySlots) {
  ReadingRing probe(8);
  const std::size_t one = ReadingRing::chunk_bytes(*heavy_chunk(probe, 0, 100));
  ReadingRing ring(64, one + one / 2);
  std::atomic<bool> stop{true};
  EXPECT_TRUE(ring.push_blocking(heavy_chunk(ring, 1, 100), stop));
  // A free slot but no bytes left: the push waits, and gives up on stop.
  EXPECT_FALSE(ring.push_blocking(heavy_chunk(ring, 2, 100), stop));
  EXPECT_EQ(ring.stats().blocked_pushes, 1u);
  EXPECT_EQ(ring.stats().fill, 1u);
}

TEST(ReadingRingTest, BlockingPushUnderAByteBoundLosesNothing) {
  ReadingRing probe(8);
  const std::size_t one = ReadingRing::chunk_bytes(*heavy_chunk(probe, 0, 50));
  ReadingRing ring(1024, one * 3);
  std::atomic<bool> stop{false};
  constexpr std::uint64_t kChunks = 2'000;
  std::thread producer([&] {
    for (std::uint64_t i = 1; i <= kChunks; ++i) {
      ASSERT_TRUE(ring.push_blocking(heavy_chunk(ring, i, 50), stop));
    }
  });
  std::uint64_t expected = 1;
  std::uint64_t readings = 0;
  while (expected <= kChunks) {
    EXPECT_LE(ring.bytes(), one * 3);
    auto c = ring.pop();
    if (!c) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(c->record_no, expected);
    readings += c->readings.size();
    ++expected;
    ring.release(std::move(c));
  }
  producer.join();
  EXPECT_EQ(readings, kChunks * 50);
  EXPECT_EQ(ring.stats().dropped_chunks, 0u);
  EXPECT_EQ(ring.bytes(), 0u);
  EXPECT_LE(ring.stats().free_bytes, one * 3);
}

// Decided: a chunk larger than the whole bound is not refused (the parser's limits bound it);
// it passes alone, into an empty ring, counted.
TEST(ReadingRingTest, OversizeChunkPassesAloneIntoAnEmptyRing) {
  ReadingRing probe(8);
  const std::size_t small = ReadingRing::chunk_bytes(*heavy_chunk(probe, 0, 10));
  const std::size_t big = ReadingRing::chunk_bytes(*heavy_chunk(probe, 0, 1000));
  ReadingRing ring(64, small * 3);
  ASSERT_GT(big, ring.max_bytes());
  // Not while anything is in use...
  EXPECT_TRUE(ring.try_push(heavy_chunk(ring, 1, 10)));
  EXPECT_FALSE(ring.has_room(big));
  EXPECT_FALSE(ring.try_push(heavy_chunk(ring, 2, 1000)));
  EXPECT_EQ(ring.stats().dropped_readings, 1000u);
  ring.release(ring.pop());
  // ...but into the empty ring, and then nothing else until it is released.
  EXPECT_TRUE(ring.has_room(big));
  EXPECT_TRUE(ring.try_push(heavy_chunk(ring, 3, 1000)));
  EXPECT_EQ(ring.stats().oversize_chunks, 1u);
  EXPECT_EQ(ring.bytes(), big);
  EXPECT_FALSE(ring.try_push(heavy_chunk(ring, 4, 10)));
  auto c = ring.pop();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->readings.size(), 1000u);
  ring.release(std::move(c));
  EXPECT_EQ(ring.bytes(), 0u);
  EXPECT_TRUE(ring.try_push(heavy_chunk(ring, 5, 10)));
}

TEST(ReadingRingTest, FreeListKeepsNoMoreThanTheBudget) {
  ReadingRing probe(8);
  const std::size_t big = ReadingRing::chunk_bytes(*heavy_chunk(probe, 0, 1000));
  const std::size_t empty = ReadingRing::chunk_bytes(*probe.acquire());
  // Slots for many chunks, bytes for about two and a half big ones.
  ReadingRing ring(64, big * 2 + big / 2);
  // One big chunk at a time through the ring, each time a fresh one from the producer: without
  // the budget the free list would keep them all.
  std::vector<std::unique_ptr<ReadingChunk>> taken;
  for (std::uint64_t i = 1; i <= 8; ++i) {
    auto c = std::make_unique<ReadingChunk>();
    c->record_no = i;
    auto filled = heavy_chunk(probe, i, 1000);
    std::swap(c->readings, filled->readings);
    ASSERT_TRUE(ring.try_push(std::move(c)));
    ring.release(ring.pop());
    EXPECT_LE(ring.stats().free_bytes, ring.max_bytes()) << i;
  }
  ReadingRingStats s = ring.stats();
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.free_bytes, 2 * big + 6 * empty);  // two kept whole, six emptied
  EXPECT_EQ(s.shrunk_chunks, 6u);
  // Reuse hands out the kept chunks first, then emptied ones that hold nothing any more.
  std::size_t reused_heavy = 0, reused_empty = 0;
  for (int i = 0; i < 8; ++i) {
    auto c = ring.acquire();
    EXPECT_TRUE(c->readings.empty());
    const std::size_t held = ReadingRing::chunk_bytes(*c);
    if (held == big) ++reused_heavy;
    if (held == empty) ++reused_empty;
    taken.push_back(std::move(c));
  }
  EXPECT_EQ(reused_heavy, 2u);
  EXPECT_EQ(reused_empty, 6u);
  EXPECT_EQ(ring.stats().free_bytes, 0u);
}

}  // namespace
}  // namespace edgesketch::agent
