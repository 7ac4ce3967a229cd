// ReadingRing: two spsc queues of raw chunk pointers (owned by whichever queue or side holds
// them; the destructor frees what is left in both) and the byte counts beside them.
#include "ring/reading_ring.h"

#include <thread>

namespace edgesketch::agent {

ReadingRing::ReadingRing(std::size_t capacity, std::size_t max_bytes)
    : capacity_(capacity < 1 ? 1 : capacity),
      max_bytes_(max_bytes),
      filled_(capacity_),
      free_(capacity_ + 1) {}

ReadingRing::~ReadingRing() {
  ReadingChunk* c = nullptr;
  while (filled_.pop(c)) delete c;
  while (free_.pop(c)) delete c;
}

std::size_t ReadingRing::chunk_bytes(const ReadingChunk& chunk) {
  return sizeof(ReadingChunk) + chunk.readings.heap_bytes();
}

std::unique_ptr<ReadingChunk> ReadingRing::acquire() {
  ReadingChunk* c = nullptr;
  if (free_.pop(c)) {
    free_bytes_.fetch_sub(c->bytes, std::memory_order_relaxed);
    c->readings.clear();
    c->record_no = 0;
    c->bytes = 0;
    return std::unique_ptr<ReadingChunk>(c);
  }
  return std::make_unique<ReadingChunk>();
}

bool ReadingRing::has_room(std::size_t bytes) const {
  if (fill() >= capacity_) return false;
  const std::size_t in_use = in_use_bytes_.load(std::memory_order_relaxed);
  return in_use == 0 || in_use + bytes <= max_bytes_;
}

void ReadingRing::pushed(std::size_t bytes, std::size_t readings) {
  if (bytes > max_bytes_) oversize_chunks_.fetch_add(1, std::memory_order_relaxed);
  pushed_chunks_.fetch_add(1, std::memory_order_relaxed);
  pushed_readings_.fetch_add(readings, std::memory_order_relaxed);
}

bool ReadingRing::try_push(std::unique_ptr<ReadingChunk> chunk) {
  const std::size_t n = chunk->readings.size();
  chunk->bytes = chunk_bytes(*chunk);
  const std::size_t bytes = chunk->bytes;
  // The bytes count before the chunk is visible to the consumer, whose release() subtracts them.
  if (has_room(bytes)) {
    in_use_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    if (filled_.push(chunk.get())) {
      chunk.release();
      pushed(bytes, n);
      return true;
    }
    in_use_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  }
  dropped_chunks_.fetch_add(1, std::memory_order_relaxed);
  dropped_readings_.fetch_add(n, std::memory_order_relaxed);
  // The producer is the free list's consumer and may not push to it, so the dropped chunk is
  // freed (drops are the exceptional path).
  return false;
}

bool ReadingRing::push_blocking(std::unique_ptr<ReadingChunk> chunk,
                                const std::atomic<bool>& stop) {
  const std::size_t bytes = chunk_bytes(*chunk);
  return push_blocking(std::move(chunk), stop, bytes);
}

bool ReadingRing::push_blocking(std::unique_ptr<ReadingChunk> chunk, const std::atomic<bool>& stop,
                                std::size_t bytes) {
  const std::size_t n = chunk->readings.size();
  chunk->bytes = bytes;
  bool waited = false;
  for (int spin = 0;; ++spin) {
    if (has_room(bytes)) {
      in_use_bytes_.fetch_add(bytes, std::memory_order_relaxed);
      if (filled_.push(chunk.get())) {
        chunk.release();
        pushed(bytes, n);
        if (waited) blocked_pushes_.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
      in_use_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    }
    waited = true;
    if (stop.load(std::memory_order_relaxed)) {
      blocked_pushes_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (spin < 64) {
      std::this_thread::yield();
    } else {
      const int us = spin < 1024 ? 50 : 1000;
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
  }
}

std::unique_ptr<ReadingChunk> ReadingRing::pop() {
  ReadingChunk* c = nullptr;
  if (!filled_.pop(c)) return nullptr;
  popped_chunks_.fetch_add(1, std::memory_order_relaxed);
  return std::unique_ptr<ReadingChunk>(c);
}

void ReadingRing::release(std::unique_ptr<ReadingChunk> chunk) {
  const std::size_t in_use =
      in_use_bytes_.fetch_sub(chunk->bytes, std::memory_order_relaxed) - chunk->bytes;
  // Measured again: the edge processing may have grown the chunk (enrichment adds tags).
  std::size_t keep = chunk_bytes(*chunk);
  if (in_use + free_bytes_.load(std::memory_order_relaxed) + keep > max_bytes_) {
    chunk->readings.release_storage();
    keep = chunk_bytes(*chunk);
    shrunk_chunks_.fetch_add(1, std::memory_order_relaxed);
    // Not even the emptied chunk fits the budget: freed (acquire() makes a new one).
    if (in_use + free_bytes_.load(std::memory_order_relaxed) + keep > max_bytes_) return;
  }
  chunk->bytes = keep;
  // Counted before the producer can pop it (acquire() subtracts).
  free_bytes_.fetch_add(keep, std::memory_order_relaxed);
  if (free_.push(chunk.get())) {
    chunk.release();
  } else {
    free_bytes_.fetch_sub(keep, std::memory_order_relaxed);
  }
}

std::size_t ReadingRing::fill() const {
  // Counters, not read_available(): that one is only valid on the consumer thread.
  const std::uint64_t popped = popped_chunks_.load(std::memory_order_relaxed);
  const std::uint64_t pushed = pushed_chunks_.load(std::memory_order_relaxed);
  return pushed > popped ? static_cast<std::size_t>(pushed - popped) : 0;
}

ReadingRingStats ReadingRing::stats() const {
  ReadingRingStats s;
  s.pushed_chunks = pushed_chunks_.load(std::memory_order_relaxed);
  s.pushed_readings = pushed_readings_.load(std::memory_order_relaxed);
  s.dropped_chunks = dropped_chunks_.load(std::memory_order_relaxed);
  s.dropped_readings = dropped_readings_.load(std::memory_order_relaxed);
  s.blocked_pushes = blocked_pushes_.load(std::memory_order_relaxed);
  s.fill = fill();
  s.capacity = capacity_;
  s.bytes = in_use_bytes_.load(std::memory_order_relaxed);
  s.free_bytes = free_bytes_.load(std::memory_order_relaxed);
  s.max_bytes = max_bytes_;
  s.oversize_chunks = oversize_chunks_.load(std::memory_order_relaxed);
  s.shrunk_chunks = shrunk_chunks_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace edgesketch::agent
