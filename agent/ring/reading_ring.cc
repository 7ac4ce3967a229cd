// ReadingRing: two spsc queues of raw chunk pointers (owned by whichever queue or side holds
// them; the destructor frees what is left in both).
#include "ring/reading_ring.h"

#include <thread>

namespace edgesketch::agent {

ReadingRing::ReadingRing(std::size_t capacity)
    : capacity_(capacity < 1 ? 1 : capacity), filled_(capacity_), free_(capacity_ + 1) {}

ReadingRing::~ReadingRing() {
  ReadingChunk* c = nullptr;
  while (filled_.pop(c)) delete c;
  while (free_.pop(c)) delete c;
}

std::unique_ptr<ReadingChunk> ReadingRing::acquire() {
  ReadingChunk* c = nullptr;
  if (free_.pop(c)) {
    c->readings.clear();
    c->record_no = 0;
    return std::unique_ptr<ReadingChunk>(c);
  }
  return std::make_unique<ReadingChunk>();
}

bool ReadingRing::try_push(std::unique_ptr<ReadingChunk> chunk) {
  const std::size_t n = chunk->readings.size();
  if (filled_.push(chunk.get())) {
    chunk.release();
    pushed_chunks_.fetch_add(1, std::memory_order_relaxed);
    pushed_readings_.fetch_add(n, std::memory_order_relaxed);
    return true;
  }
  dropped_chunks_.fetch_add(1, std::memory_order_relaxed);
  dropped_readings_.fetch_add(n, std::memory_order_relaxed);
  // The producer is the free list's consumer and may not push to it, so the dropped chunk is
  // freed (drops are the exceptional path).
  return false;
}

bool ReadingRing::push_blocking(std::unique_ptr<ReadingChunk> chunk,
                                const std::atomic<bool>& stop) {
  const std::size_t n = chunk->readings.size();
  bool waited = false;
  for (int spin = 0;; ++spin) {
    if (filled_.push(chunk.get())) {
      chunk.release();
      pushed_chunks_.fetch_add(1, std::memory_order_relaxed);
      pushed_readings_.fetch_add(n, std::memory_order_relaxed);
      if (waited) blocked_pushes_.fetch_add(1, std::memory_order_relaxed);
      return true;
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
  if (free_.push(chunk.get())) chunk.release();
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
  return s;
}

}  // namespace edgesketch::agent
