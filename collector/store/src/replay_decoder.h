// ReplayDecoder: decodes WAL batches on helper threads while the caller applies the previous
// ones. Decoding is most of replaying a batch (applying one is a catalog lookup and a copy of
// the serialized sketches per record), so with two helpers the decode, not the apply, uses the
// cores. Batches are handed to the apply function in the order they were pushed, on the
// pushing thread, whichever helper decoded them.
//
// Thread safety: push() and finish() must be called from one thread (the one that applies); the
// helpers only decode copies of the bytes and never touch the caller's state.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/wire/batch_view.h"
#include "edgesketch/wire/limits.h"

namespace edgesketch::store {

class ReplayDecoder {
 public:
  // Receives each batch's tenant, the decode status (the decoder's error when the bytes do not
  // decode with `limits`) and the decoded view, in push order. The view points into the
  // decoder's copy of the record, valid until the function returns.
  using ApplyFn = std::function<void(std::string_view tenant, const Status& decoded,
                                     const wire::WindowBatchView& batch)>;

  // `max_in_flight` bounds the copies held (each at most one WAL record); `helpers` threads
  // (at least one) decode them, each a different record.
  ReplayDecoder(const wire::Limits& limits, std::int64_t now_ms, ApplyFn apply,
                std::size_t max_in_flight = 8, std::size_t helpers = 1);
  // Stops the helper; batches not yet applied are dropped (call finish() to apply them).
  ~ReplayDecoder();
  ReplayDecoder(const ReplayDecoder&) = delete;
  ReplayDecoder& operator=(const ReplayDecoder&) = delete;

  // Copies the record, queues it for decoding and applies every batch already decoded at the
  // front of the queue; blocks while max_in_flight records are queued.
  void push(std::string_view tenant, ByteSpan bytes);
  // Applies everything pushed; returns once the queue is empty.
  void finish();

 private:
  enum class State { kPending, kDecoding, kDone };
  struct Item {
    std::string tenant;
    Bytes bytes;
    State state = State::kPending;
    Status decoded;
    wire::WindowBatchView view;
  };

  void worker_loop();
  // Applies the decoded items at the front, waiting for the front item while the queue holds
  // more than `keep` items. Called with `lock` held; releases it around apply_.
  void drain(std::unique_lock<std::mutex>& lock, std::size_t keep);
  void decode(Item& item) const;

  const wire::Limits limits_;
  const std::int64_t now_ms_;
  const ApplyFn apply_;
  const std::size_t max_in_flight_;

  std::mutex mu_;                             // guards queue_, spare_, the items' state and stop_
  std::condition_variable work_cv_;           // helpers wait for a pending item
  std::condition_variable done_cv_;           // the caller waits for the front to be decoded
  std::deque<std::unique_ptr<Item>> queue_;   // push order; stable items
  std::vector<std::unique_ptr<Item>> spare_;  // applied items, reused by push()
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace edgesketch::store
