// The wire codec: protobuf bytes (proto/edgesketch.proto, via nanopb) <-> domain types
// (wire/types.h), with validation.
//
// Decoders treat their input as hostile. They check the payload size first, bound every
// repeated field while decoding (the callback that sees one element too many aborts the decode),
// never allocate more than the Limits allow, catch every exception inside nanopb callbacks, and
// return either a fully validated value or an error Status carrying an ErrorReason
// (wire/error_reason.h) and a message naming the field, the value and the limit, e.g.
//   "window_batch.records[7].window_start_ms: 1700000001234 is not a multiple of window_ms
//    10000 [bad_window]".
// Clock bounds are relative to `now_ms`, the receiver's wall clock (Unix epoch milliseconds),
// passed in so tests and replays control it.
//
// What decoding guarantees (beyond well-formed protobuf):
//  - every string is valid UTF-8 without NUL and within max_name_bytes (labels:
//    max_label_bytes); metric, device_id and gateway_id are non-empty, tag keys non-empty;
//  - ReadingBatch: at most max_readings_per_batch readings, each with at most max_tags tags
//    (batch tags merged with the reading's own, sorted; a reading's tag overrides a batch tag of
//    the same key; a key twice in one list is an error), a timestamp within the clock bounds and
//    exactly one of value / label; columnar samples have one value or label per timestamp. The
//    device-side nanopb structs use fixed-size strings, which end at the first NUL byte.
//  - WindowBatch: schema_version == kSchemaVersion, at most max_records_per_batch records and
//    a record_count equal to their number (a payload cut at a record boundary is `truncated`,
//    not a shorter batch); each
//    record has sorted unique tags (never re-sorted: a misordered key is rejected), an accepted
//    window (min_window_ms <= window_ms <= max_window_ms, window_ms divides max_window_ms,
//    window_start_ms a multiple of window_ms, within the clock bounds), sketch blobs of at most
//    max_sketch_bytes that their deserializers accept, an aggregate that passes
//    sketch::WindowAggregate::from_parts, and distinct_of / topk_of set exactly when the
//    record carries that sketch; created_ms within the clock bounds.
//  - Ack: non-empty gateway_id, at most max_ack_entries seqs and rejections together.
// Unknown fields are skipped (forward compatibility).
//
// Encoders write canonical bytes: fields in field-number order, proto3 defaults omitted,
// repeated scalars packed, sketch blobs exactly as the sketches' serialize() writes them. They
// do not validate: decoding is the gate. Equal values encode to equal bytes.
//
// All functions are thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/wire/error_reason.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::wire {

// A device's ReadingBatch, flattened into readings (columnar samples first, then rows).
Result<ReadingBatch> decode_reading_batch(ByteSpan bytes, const Limits& limits,
                                          std::int64_t now_ms);

// Encodes readings as a device would: a run of consecutive readings with the same metric, the
// same kind (value or label), no tags beyond batch.tags and timestamp steps that fit 32 bits
// becomes one columnar Samples (until the device-side array is full); other readings become
// rows carrying the tags they add to (or override in) batch.tags. A label reading's value is not
// sent (it decodes as 0). Fails with kOutOfRange (reasons too_many_readings, too_many_tags,
// name_too_long, label_too_long) when the readings do not fit the device-side nanopb arrays and
// string sizes (proto/edgesketch.options), bad_string for a NUL in a string, duplicate_tag for a
// key twice in batch.tags, and plain kInvalidArgument when a reading lacks a batch tag key or has
// a device_id other than "" or batch.device_id (a decoder would not give it back).
Result<Bytes> encode_reading_batch(const ReadingBatch& batch);

// Accepts the payload uncompressed or as one zstd frame (wire/compression.h).
Result<WindowBatch> decode_window_batch(ByteSpan bytes, const Limits& limits, std::int64_t now_ms);

// decode_window_batch_view() (wire/batch_view.h) decodes the same payloads in place, for
// receivers that keep the sketches serialized.
// Precondition: the records' sketches are valid (they serialize).
Bytes encode_window_batch(const WindowBatch& batch);

Result<Ack> decode_ack(ByteSpan bytes, const Limits& limits);
Bytes encode_ack(const Ack& ack);

}  // namespace edgesketch::wire
