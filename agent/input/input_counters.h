// InputCounters: what every input (MQTT, UDP) counts around its InputSink, in one place, so the
// inputs count alike and their stats share one meaning.
//
// Thread-safety: the input's receiving thread updates the counters; counts() may run on any
// thread at the same time (relaxed atomics: each count is exact, a snapshot need not be
// consistent across counts).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgesketch/common/byte_coding.h"
#include "input/input_sink.h"

namespace edgesketch::agent {

// The counts every input's stats start with.
struct InputCounts {
  std::uint64_t received = 0;         // payloads that arrived (MQTT messages, UDP datagrams)
  std::uint64_t bytes = 0;            // their bytes
  std::uint64_t accepted = 0;         // the sink returned true
  std::uint64_t rejected = 0;         // the sink returned false
  std::uint64_t oversize = 0;         // above the input's size limit, not handed to the sink
  std::uint64_t sink_exceptions = 0;  // the sink threw (caught)
};

class InputCounters {
 public:
  // A payload of `bytes` bytes arrived.
  void arrived(std::size_t bytes) {
    received_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }
  // A payload above the size limit was dropped; true for the first one (the input logs it).
  bool oversize() { return oversize_.fetch_add(1, std::memory_order_relaxed) == 0; }
  // Hands the payload to `sink` and counts its answer; an exception is caught and counted,
  // never propagated into the transport.
  void deliver(const InputSink& sink, std::string_view topic, ByteSpan payload, bool dup);

  InputCounts counts() const;

 private:
  std::atomic<std::uint64_t> received_{0}, bytes_{0}, accepted_{0}, rejected_{0}, oversize_{0},
      sink_exceptions_{0};
};

}  // namespace edgesketch::agent
