// Compressed window batches. A WindowBatch payload (MQTT message, HTTP ingest body, agent outbox
// row, collector WAL record) is either the protobuf bytes themselves or ONE zstd frame holding
// them. The two are told apart by the first four bytes: a zstd frame starts with its magic
// number 28 B5 2F FD, while the canonical protobuf encoding of a WindowBatch starts with field 1
// (schema_version, always set), byte 08. The frame must state its content size (zstd writes it
// when the whole input is compressed at once, as compress_window_batch does), and that size is
// bounded by Limits::max_payload_bytes like an uncompressed payload, so a small hostile frame
// cannot make the receiver allocate more than the limit.
//
// Window batches compress well (series keys repeat record after record; sketch blobs have many
// small counts): on the standard fleet zstd level 3 cuts the uplink bytes by about 2.4x.
#pragma once

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/wire/limits.h"

namespace edgesketch::wire {

// True when `bytes` start with the zstd frame magic.
bool is_compressed_payload(ByteSpan bytes);

// One zstd frame (with its content size) holding `encoded`; level 1..19.
Bytes compress_window_batch(ByteSpan encoded, int level = 3);

// The protobuf bytes of a payload: `bytes` itself when uncompressed, else the decompressed
// frame, written to `scratch` (which the returned span then points into). Errors carry the
// reasons payload_too_large (compressed or decompressed size above limits.max_payload_bytes)
// and bad_compression (not exactly one valid frame with a content size).
Result<ByteSpan> uncompressed_payload(ByteSpan bytes, const Limits& limits, Bytes& scratch);

}  // namespace edgesketch::wire
