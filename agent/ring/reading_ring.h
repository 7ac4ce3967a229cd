// ReadingRing: the lock-free hand-off from one input thread to the aggregator thread
// (boost::lockfree::spsc_queue of parsed chunks). Chunks travel back on a second queue once the
// aggregator is done with them, so in steady state neither side allocates: the producer refills
// a returned chunk's ReadingBuffer in place.
//
// Bounded twice: in chunks (`capacity` slots) and in bytes (`max_bytes`, the input's
// ring_bytes). A chunk's bytes are the heap memory its readings hold (ReadingBuffer::heap_bytes()
// plus the chunk itself), measured when it is pushed; they count against max_bytes until the
// consumer release()s the chunk, so the chunk the aggregator works on counts too. A push fits
// when a slot is free and the bytes in use plus the chunk's stay within max_bytes, or when no
// bytes are in use at all: a chunk larger than max_bytes alone passes into an empty ring (counted
// in oversize_chunks) rather than never passing, since the parser's limits bound its size
// anyway (wire::Limits: 4,096 readings of a payload).
//
// The free list is bounded by the same budget: release() keeps a chunk's storage only while the
// bytes in use plus those on the free list stay within max_bytes, and frees the storage of a chunk
// past that (counted in shrunk_chunks) before recycling it, or frees the chunk itself when not
// even the emptied chunk fits. So the chunks of one ring hold about
// max_bytes in all (plus the chunk the producer is filling and one oversize chunk), whatever mix
// of small and large payloads went through it before.
//
// Overflow policy (DESIGN.md: named and counted), the same for slots and bytes: MQTT inputs wait
// for room (has_room(), push_blocking()) — a full ring blocks the Paho receive thread, which is
// the broker's backpressure; UDP inputs do not wait and a full ring drops the chunk (try_push()
// counts it in dropped_chunks / dropped_readings; the agent checks has_room() before its journal
// write and counts the drop itself).
//
// Thread safety: exactly one producer thread calls acquire()/has_room()/try_push()/
// push_blocking(), exactly one consumer thread calls pop()/release(); stats(), fill() and bytes()
// from any thread.
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
  // Set by the ring: what it accounts for the chunk (ReadingRing::chunk_bytes() when pushed, or
  // when released to the free list).
  std::size_t bytes = 0;
};

struct ReadingRingStats {
  std::uint64_t pushed_chunks = 0;
  std::uint64_t pushed_readings = 0;
  std::uint64_t dropped_chunks = 0;    // try_push() on a full ring (slots or bytes)
  std::uint64_t dropped_readings = 0;  // their readings
  std::uint64_t blocked_pushes = 0;    // push_blocking() calls that had to wait
  std::uint64_t fill = 0;              // gauge: chunks in the ring now
  std::uint64_t capacity = 0;
  std::uint64_t bytes = 0;       // gauge: bytes of the chunks pushed and not yet released
  std::uint64_t free_bytes = 0;  // gauge: bytes the free list's chunks keep
  std::uint64_t max_bytes = 0;
  std::uint64_t oversize_chunks = 0;  // chunks larger than max_bytes pushed into an empty ring
  std::uint64_t shrunk_chunks = 0;    // chunks whose storage release() freed (budget full)
};

class ReadingRing {
 public:
  // The default byte bound (InputConfig::ring_bytes).
  static constexpr std::size_t kDefaultMaxBytes = std::size_t{16} << 20;

  // Holds up to `capacity` chunks (>= 1) and `max_bytes` of their readings (see above).
  explicit ReadingRing(std::size_t capacity, std::size_t max_bytes = kDefaultMaxBytes);
  ~ReadingRing();
  ReadingRing(const ReadingRing&) = delete;
  ReadingRing& operator=(const ReadingRing&) = delete;

  // What the ring accounts for a chunk: its readings' heap_bytes() and the chunk itself. One
  // pass over the chunk's reading slots.
  static std::size_t chunk_bytes(const ReadingChunk& chunk);

  // Producer: an empty chunk to fill (a recycled one when available, else a new one).
  std::unique_ptr<ReadingChunk> acquire();
  // Producer: whether a chunk of `bytes` (chunk_bytes()) fits now. Only the producer adds, so
  // room seen here is still there at its next push.
  bool has_room(std::size_t bytes) const;
  // Producer: hands the chunk over, or drops it (counted) when it does not fit (has_room()).
  // Returns false when dropped; the chunk is then freed.
  bool try_push(std::unique_ptr<ReadingChunk> chunk);
  // Producer: hands the chunk over, waiting (spin, yield, then sleeps growing to 1 ms) while it
  // does not fit. Returns false only when `stop` becomes true before there was room.
  bool push_blocking(std::unique_ptr<ReadingChunk> chunk, const std::atomic<bool>& stop);
  // The same with the chunk's chunk_bytes() as the producer measured them for has_room(), so a
  // large chunk is not measured twice.
  bool push_blocking(std::unique_ptr<ReadingChunk> chunk, const std::atomic<bool>& stop,
                     std::size_t bytes);

  // Consumer: the oldest chunk, or nullptr when the ring is empty.
  std::unique_ptr<ReadingChunk> pop();
  // Consumer: gives a processed chunk back: its bytes no longer count, and it is recycled (its
  // storage freed first when the byte budget is full; the chunk freed when the free list is).
  void release(std::unique_ptr<ReadingChunk> chunk);

  // Chunks in the ring now (approximate while both sides run).
  std::size_t fill() const;
  std::size_t capacity() const { return capacity_; }
  // Bytes of the chunks pushed and not yet released (approximate while both sides run).
  std::size_t bytes() const { return in_use_bytes_.load(std::memory_order_relaxed); }
  std::size_t max_bytes() const { return max_bytes_; }
  ReadingRingStats stats() const;

 private:
  using Queue = boost::lockfree::spsc_queue<ReadingChunk*>;

  // Producer: counts a chunk of `bytes` and `readings` in (after it went into filled_).
  void pushed(std::size_t bytes, std::size_t readings);

  std::size_t capacity_;
  std::size_t max_bytes_;
  Queue filled_;
  Queue free_;
  // The producer adds, the consumer subtracts: a stale value seen by the producer is larger than
  // the true one, so has_room() errs on the side of waiting.
  std::atomic<std::size_t> in_use_bytes_{0};
  std::atomic<std::size_t> free_bytes_{0};  // the consumer adds, the producer subtracts
  std::atomic<std::uint64_t> oversize_chunks_{0};
  std::atomic<std::uint64_t> shrunk_chunks_{0};
  std::atomic<std::uint64_t> pushed_chunks_{0};
  std::atomic<std::uint64_t> popped_chunks_{0};
  std::atomic<std::uint64_t> pushed_readings_{0};
  std::atomic<std::uint64_t> dropped_chunks_{0};
  std::atomic<std::uint64_t> dropped_readings_{0};
  std::atomic<std::uint64_t> blocked_pushes_{0};
};

}  // namespace edgesketch::agent
