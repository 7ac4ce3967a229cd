// ReadingRing: the lock-free hand-off from one input thread to the aggregator thread
// (boost::lockfree::spsc_queue of parsed chunks). Chunks travel back on a second queue once the
// aggregator is done with them, so in steady state neither side allocates: the producer refills
// a returned chunk's ReadingBuffer in place.
//
// Overflow policy (DESIGN.md: named and counted): MQTT inputs push_blocking() — a full ring
// blocks the Paho receive thread, which is the broker's backpressure; UDP inputs try_push() and
// a full ring drops the chunk, counted in dropped_chunks / dropped_readings.
//
// Thread safety: exactly one producer thread calls acquire()/try_push()/push_blocking(), exactly
// one consumer thread calls pop()/release(); stats() and fill() from any thread.
#pragma once

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "input/payload_parser.h"

namespace edgesketch::agent {

// One parsed payload.
struct ReadingChunk {
  ReadingBuffer readings;
  // The journal record the payload was appended as (0 = not journaled).
  std::uint64_t record_no = 0;
};

struct ReadingRingStats {
  std::uint64_t pushed_chunks = 0;
  std::uint64_t pushed_readings = 0;
  std::uint64_t dropped_chunks = 0;    // try_push() on a full ring
  std::uint64_t dropped_readings = 0;  // their readings
  std::uint64_t blocked_pushes = 0;    // push_blocking() calls that had to wait
  std::uint64_t fill = 0;              // gauge: chunks in the ring now
  std::uint64_t capacity = 0;
};

class ReadingRing {
 public:
  // Holds up to `capacity` chunks (>= 1).
  explicit ReadingRing(std::size_t capacity);
  ~ReadingRing();
  ReadingRing(const ReadingRing&) = delete;
  ReadingRing& operator=(const ReadingRing&) = delete;

  // Producer: an empty chunk to fill (a recycled one when available, else a new one).
  std::unique_ptr<ReadingChunk> acquire();
  // Producer: hands the chunk over, or drops it (counted) when the ring is full. Returns false
  // when dropped; the chunk is then recycled.
  bool try_push(std::unique_ptr<ReadingChunk> chunk);
  // Producer: hands the chunk over, waiting (spin, yield, then sleeps growing to 1 ms) while the
  // ring is full. Returns false only when `stop` becomes true before there was room.
  bool push_blocking(std::unique_ptr<ReadingChunk> chunk, const std::atomic<bool>& stop);

  // Consumer: the oldest chunk, or nullptr when the ring is empty.
  std::unique_ptr<ReadingChunk> pop();
  // Consumer: gives a processed chunk back for reuse (dropped when the free list is full).
  void release(std::unique_ptr<ReadingChunk> chunk);

  // Chunks in the ring now (approximate while both sides run).
  std::size_t fill() const;
  std::size_t capacity() const { return capacity_; }
  ReadingRingStats stats() const;

 private:
  using Queue = boost::lockfree::spsc_queue<ReadingChunk*>;

  std::size_t capacity_;
  Queue filled_;
  Queue free_;
  std::atomic<std::uint64_t> pushed_chunks_{0};
  std::atomic<std::uint64_t> popped_chunks_{0};
  std::atomic<std::uint64_t> pushed_readings_{0};
  std::atomic<std::uint64_t> dropped_chunks_{0};
  std::atomic<std::uint64_t> dropped_readings_{0};
  std::atomic<std::uint64_t> blocked_pushes_{0};
};

}  // namespace edgesketch::agent
