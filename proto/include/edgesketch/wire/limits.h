// Limits: the bounds every decoder of untrusted wire bytes enforces. The defaults suit the agent
// and the collector; daemons fill the struct from their config.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgesketch::wire {

struct Limits {
  // Largest payload accepted; checked before anything is decoded.
  std::size_t max_payload_bytes = std::size_t{1} << 20;
  // Readings in one ReadingBatch, columnar and row readings together. (The device-side nanopb
  // arrays cap a batch at 8 x 256 + 16 anyway.)
  std::size_t max_readings_per_batch = 4096;
  // WindowRecords in one WindowBatch; decoding stops as soon as one more arrives.
  std::size_t max_records_per_batch = 10'000;
  // Seqs plus rejections in one Ack.
  std::size_t max_ack_entries = 10'000;
  // Tags of one reading (batch and reading tags merged) or one WindowRecord.
  std::size_t max_tags = 16;
  // Bytes of a metric, tag key, tag value, device id, gateway id, tenant, distinct_of, topk_of
  // or rejection reason.
  std::size_t max_name_bytes = 128;
  // Bytes of a categorical reading's label.
  std::size_t max_label_bytes = 256;
  // Bytes of one serialized sketch (histogram, HyperLogLog or top-K) in a WindowRecord.
  std::size_t max_sketch_bytes = std::size_t{64} << 10;
  // Earliest timestamp accepted anywhere (2000-01-01T00:00:00Z): older means an unset clock.
  std::int64_t min_ts_ms = 946'684'800'000;
  // How far a timestamp may lie ahead of the receiver's now_ms (device clocks run fast).
  std::int64_t max_future_ms = 24LL * 3600 * 1000;
  // How far a timestamp may lie behind the receiver's now_ms (outage backlogs).
  std::int64_t max_past_ms = 30LL * 24 * 3600 * 1000;
  // Smallest window_ms of a WindowRecord.
  std::uint32_t min_window_ms = 1000;
  // Largest window_ms of a WindowRecord. Every accepted window_ms divides it, so windows of all
  // accepted sizes tile it and nest into each other's rollups when their sizes divide.
  std::uint32_t max_window_ms = 24u * 3600 * 1000;
};

}  // namespace edgesketch::wire
