// Domain types of the wire messages (proto/edgesketch.proto): what the codec decodes into and
// encodes from. Plain values: copyable, movable, thread-compatible.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "edgesketch/sketch/window_aggregate.h"

namespace edgesketch::wire {

// The schema version this library reads and writes.
inline constexpr std::uint32_t kSchemaVersion = 1;

struct Tag {
  std::string key;
  std::string value;

  friend bool operator==(const Tag&, const Tag&) = default;
  friend auto operator<=>(const Tag&, const Tag&) = default;
};

// One reading, flattened from either wire form (row Reading or columnar Samples).
struct Reading {
  std::string device_id;  // from the batch
  std::string metric;
  std::vector<Tag> tags;   // the batch's tags plus the reading's own, sorted by key, keys unique
  std::int64_t ts_ms = 0;  // device clock, Unix epoch milliseconds
  // The numeric reading (may be non-finite: the aggregator counts those); 0 for a label.
  double value = 0;
  std::string label;      // categorical reading
  bool is_label = false;  // which of value / label this reading carries

  friend bool operator==(const Reading&, const Reading&) = default;
};

// What a device publishes. The order of `readings` carries no meaning: the decoder yields the
// columnar readings first, then the row readings.
struct ReadingBatch {
  std::string device_id;
  std::vector<Tag> tags;  // the batch-level tags (already merged into every reading)
  std::uint64_t batch_seq = 0;
  std::vector<Reading> readings;

  friend bool operator==(const ReadingBatch&, const ReadingBatch&) = default;
};

// Identity of an aggregate series (the tenant comes from the batch).
struct SeriesKey {
  std::string metric;
  std::vector<Tag> tags;  // sorted by key, keys unique

  friend bool operator==(const SeriesKey&, const SeriesKey&) = default;
};

// The aggregate of one series over [window_start_ms, window_start_ms + window_ms).
struct WindowRecord {
  SeriesKey key;
  std::int64_t window_start_ms = 0;  // a multiple of window_ms
  std::uint32_t window_ms = 0;
  bool delta = false;       // corrects a window already shipped: merge it in
  std::string distinct_of;  // what agg.distinct() counts: a tag key or "label"; "" without one
  std::string topk_of;      // what agg.topk() ranks: a tag key or "label"; "" without one
  sketch::WindowAggregate agg;

  friend bool operator==(const WindowRecord&, const WindowRecord&) = default;
};

// The unit of outbox storage, transport, ack and dedupe (gateway_id, seq).
struct WindowBatch {
  std::uint32_t schema_version = kSchemaVersion;
  std::string tenant;  // may be empty; checked against the topic's tenant when set
  std::string gateway_id;
  std::uint64_t seq = 0;
  std::int64_t created_ms = 0;
  std::vector<WindowRecord> records;

  friend bool operator==(const WindowBatch&, const WindowBatch&) = default;
};

// A batch the collector will never store; the agent must not resend it.
struct AckRejection {
  std::uint64_t seq = 0;
  std::string reason;  // a reason_name() of ErrorReason

  friend bool operator==(const AckRejection&, const AckRejection&) = default;
};

// The collector's application ack: `seqs` are durable.
struct Ack {
  std::string gateway_id;
  std::vector<std::uint64_t> seqs;
  std::vector<AckRejection> rejected;

  friend bool operator==(const Ack&, const Ack&) = default;
};

}  // namespace edgesketch::wire
