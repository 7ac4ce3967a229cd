// WindowBatch decoded in place: every string and sketch blob is a view into the payload, for
// receivers that keep the bytes (the collector's WAL and store) and must not pay for building
// and freeing a WindowRecord (strings, tag vectors, decoded sketches) per record.
//
// decode_window_batch_view() accepts exactly the payloads decode_window_batch() accepts, with the
// same ErrorReason and message on rejection (tests/fuzz/window_batch_view_fuzz.cc checks the two
// against each other), and to_window_batch() of its view equals decode_window_batch()'s batch.
// It parses the protobuf wire format itself (the nanopb rules for varints, wire types, unknown
// and repeated fields) and validates histogram blobs with ExpHistogram::validate() instead of
// deserializing them. HyperLogLog and top-K blobs are still deserialized once to be checked.
//
// Thread safety: a WindowBatchView is a plain value; decoding into one needs exclusive access.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::wire {

struct TagView {
  std::string_view key;
  std::string_view value;
};

// One WindowRecord as it lies in the payload. Everything decode_window_batch() guarantees holds
// (wire/codec.h): clean, bounded strings, sorted unique tag keys, an accepted window, sketch
// blobs that their deserialize() accepts and scalars consistent with them (from_parts()).
struct WindowRecordView {
  std::string_view metric;
  std::span<const TagView> tags;  // sorted by key, keys unique
  std::int64_t window_start_ms = 0;
  std::uint32_t window_ms = 0;
  bool delta = false;
  std::uint64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  // Serialized sketches exactly as sent; empty when absent.
  ByteSpan histogram;
  ByteSpan distinct;
  ByteSpan topk;
  std::string_view distinct_of;
  std::string_view topk_of;
};

// A decoded WindowBatch whose views point into the decoded payload (or, for a compressed
// payload, into the view's own copy of the decompressed bytes): the payload must outlive the
// view's use. Reusing one view for many decodes reuses its buffers. Not copyable (the spans
// point into its own storage); moving keeps them valid.
class WindowBatchView {
 public:
  WindowBatchView() = default;
  WindowBatchView(const WindowBatchView&) = delete;
  WindowBatchView& operator=(const WindowBatchView&) = delete;
  WindowBatchView(WindowBatchView&&) = default;
  WindowBatchView& operator=(WindowBatchView&&) = default;

  std::uint32_t schema_version = kSchemaVersion;
  std::string_view tenant;
  std::string_view gateway_id;
  std::uint64_t seq = 0;
  std::int64_t created_ms = 0;

  std::span<const WindowRecordView> records() const { return records_; }

 private:
  friend Status decode_window_batch_view(ByteSpan payload, const Limits& limits,
                                         std::int64_t now_ms, WindowBatchView& out);
  std::vector<WindowRecordView> records_;
  std::vector<TagView> tags_;
  std::vector<std::uint32_t> tag_begin_;  // per record, into tags_ (spans are set at the end)
  Bytes decompressed_;
};

// Decodes `payload` (uncompressed or one zstd frame) into `out`. On error `out` holds no
// records and the Status is what decode_window_batch() returns for the payload.
Status decode_window_batch_view(ByteSpan payload, const Limits& limits, std::int64_t now_ms,
                                WindowBatchView& out);

// The record with its sketches deserialized. The view must come from
// decode_window_batch_view() (its blobs then deserialize); kCorruption otherwise.
Result<WindowRecord> to_window_record(const WindowRecordView& view);
Result<WindowBatch> to_window_batch(const WindowBatchView& view);

}  // namespace edgesketch::wire
