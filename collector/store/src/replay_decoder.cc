// ReplayDecoder: a decode pipeline for WAL replay with helper threads and in-order apply.
#include "replay_decoder.h"

#include <new>
#include <utility>

namespace edgesketch::store {

ReplayDecoder::ReplayDecoder(const wire::Limits& limits, std::int64_t now_ms, ApplyFn apply,
                             std::size_t max_in_flight, std::size_t helpers)
    : limits_(limits),
      now_ms_(now_ms),
      apply_(std::move(apply)),
      max_in_flight_(max_in_flight < 2 ? 2 : max_in_flight) {
  if (helpers < 1) helpers = 1;
  for (std::size_t i = 0; i < helpers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ReplayDecoder::~ReplayDecoder() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ReplayDecoder::decode(Item& item) const {
  // No exception may leave the helper thread.
  try {
    item.decoded = wire::decode_window_batch_view(item.bytes, limits_, now_ms_, item.view);
  } catch (const std::bad_alloc&) {
    item.decoded = Status::resource_exhausted("wal replay: out of memory decoding a batch");
  } catch (...) {
    item.decoded = Status::internal("wal replay: exception decoding a batch");
  }
}

void ReplayDecoder::worker_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    Item* next = nullptr;
    work_cv_.wait(lock, [&] {
      if (stop_) return true;
      for (auto& it : queue_) {
        if (it->state == State::kPending) {
          next = it.get();
          return true;
        }
      }
      return false;
    });
    if (stop_) return;
    next->state = State::kDecoding;
    lock.unlock();
    // The item stays queued (the caller pops only decoded items), so `next` stays valid.
    decode(*next);
    lock.lock();
    next->state = State::kDone;
    done_cv_.notify_one();
  }
}

void ReplayDecoder::drain(std::unique_lock<std::mutex>& lock, std::size_t keep) {
  for (;;) {
    if (queue_.empty()) return;
    if (queue_.front()->state != State::kDone) {
      if (queue_.size() <= keep) return;
      done_cv_.wait(lock, [&] { return queue_.front()->state == State::kDone; });
    }
    std::unique_ptr<Item> item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    apply_(item->tenant, item->decoded, item->view);
    lock.lock();
    // Kept for the next push: its buffers (a WAL record's bytes, the view's arrays) are reused.
    if (spare_.size() < max_in_flight_) spare_.push_back(std::move(item));
  }
}

void ReplayDecoder::push(std::string_view tenant, ByteSpan bytes) {
  std::unique_lock lock(mu_);
  std::unique_ptr<Item> item;
  if (spare_.empty()) {
    item = std::make_unique<Item>();
  } else {
    item = std::move(spare_.back());
    spare_.pop_back();
    item->state = State::kPending;
  }
  lock.unlock();
  item->tenant.assign(tenant);
  item->bytes.assign(bytes.begin(), bytes.end());
  lock.lock();
  queue_.push_back(std::move(item));
  work_cv_.notify_one();
  drain(lock, max_in_flight_ - 1);
}

void ReplayDecoder::finish() {
  std::unique_lock lock(mu_);
  drain(lock, 0);
}

}  // namespace edgesketch::store
