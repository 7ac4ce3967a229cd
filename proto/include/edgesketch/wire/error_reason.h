// Why the codec rejected a payload, as a small stable vocabulary that daemons use as the label
// of their rejection counters and in Ack rejections.
//
// Every error Status the decoders return ends with " [<reason_name>]", e.g.
//   "window_batch.records[3].tags[1].key: \"line\" does not sort after \"site\" [tag_order]"
// so error_reason() recovers the reason from the Status alone, also after with_context().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edgesketch/common/status.h"

namespace edgesketch::wire {

// Names are stable: they are metric labels and travel in Ack.rejected[].reason.
enum class ErrorReason : std::uint8_t {
  kUnknown = 0,        // "unknown": an OK status, or an error that did not come from the codec
  kPayloadTooLarge,    // "payload_too_large": more bytes than Limits::max_payload_bytes
  kTruncated,          // "truncated": the bytes end inside a field
  kMalformed,          // "malformed": not a valid protobuf encoding of the message
  kSchemaVersion,      // "schema_version": WindowBatch.schema_version is not kSchemaVersion
  kMissingField,       // "missing_field": a required string is empty or a reading has no value
  kBadString,          // "bad_string": not valid UTF-8, or contains NUL
  kNameTooLong,        // "name_too_long": a name longer than Limits::max_name_bytes
  kLabelTooLong,       // "label_too_long": a label longer than Limits::max_label_bytes
  kTooManyReadings,    // "too_many_readings": more than Limits::max_readings_per_batch
  kTooManyRecords,     // "too_many_records": more than Limits::max_records_per_batch
  kTooManyAckEntries,  // "too_many_ack_entries": more than Limits::max_ack_entries
  kTooManyTags,        // "too_many_tags": more than Limits::max_tags
  kTagOrder,           // "tag_order": WindowRecord tags not sorted by key or keys not unique
  kDuplicateTag,       // "duplicate_tag": a tag key twice in a reading batch's or reading's tags
  kBadSamples,         // "bad_samples": columnar samples whose column lengths disagree
  kClockPast,          // "clock_past": a timestamp before min_ts_ms or older than max_past_ms
  kClockFuture,        // "clock_future": a timestamp more than max_future_ms ahead of now
  kBadWindow,          // "bad_window": window_ms not accepted or window_start_ms not aligned
  kBadAggregate,       // "bad_aggregate": count/sum/min/max/sketches inconsistent
  kSketchTooLarge,     // "sketch_too_large": a sketch blob above Limits::max_sketch_bytes
  kBadSketch,          // "bad_sketch": a sketch blob that its deserializer rejects
  kOutOfMemory,        // "out_of_memory": an allocation failed while decoding
  kBadCompression,     // "bad_compression": a zstd-compressed payload that does not decompress
};

// The stable snake_case name of `reason`.
std::string_view reason_name(ErrorReason reason);

// The reason a codec error carries (see the header comment); kUnknown when there is none.
ErrorReason error_reason(const Status& status);

// A codec error: the StatusCode that fits `reason` (kCorruption for undecodable bytes,
// kOutOfRange for limits and clock bounds, kInvalidArgument for inconsistent content,
// kResourceExhausted for kOutOfMemory) and `detail` followed by " [<reason_name>]".
Status wire_error(ErrorReason reason, std::string_view detail);

}  // namespace edgesketch::wire
