// Checks shared by the decoders: strings, timestamps, windows, and the field paths that name
// what failed in error messages. Internal to es_wire.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "edgesketch/common/status.h"
#include "edgesketch/wire/error_reason.h"
#include "edgesketch/wire/limits.h"

namespace edgesketch::wire::internal {

// Names a field for error messages, e.g. "window_batch.records[3].tags[1].key". A chain of
// stack objects, each pointing at its parent: free to build, turned into text only on error.
struct FieldPath {
  static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);

  const FieldPath* parent = nullptr;
  std::string_view name;
  std::size_t index = kNoIndex;

  FieldPath child(std::string_view field, std::size_t i = kNoIndex) const {
    return FieldPath{this, field, i};
  }
  std::string str() const;
};

// `path: detail [reason]` as a Status.
Status field_error(ErrorReason reason, const FieldPath& path, std::string_view detail);

// A payload of `size` bytes within max_payload_bytes, else payload_too_large naming `root` (the
// message: "window_batch", "ack", ...). Checked before decoding anything.
Status check_payload_size(const FieldPath& root, std::size_t size, const Limits& limits);

// The fields of a WindowRecord that errors name, below `record`, as both record decoders (the
// codec's and the view's) name them. `record` must outlive this.
struct RecordFieldPaths {
  explicit RecordFieldPaths(const FieldPath& record)
      : metric(record.child("metric")),
        histogram(record.child("histogram")),
        distinct(record.child("distinct")),
        topk(record.child("topk")),
        distinct_of(record.child("distinct_of")),
        topk_of(record.child("topk_of")) {}
  FieldPath metric, histogram, distinct, topk, distinct_of, topk_of;
};

// Well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF), no NUL.
bool is_clean_utf8(std::string_view s);

// A string within max_bytes (else `too_long`), clean UTF-8 (else bad_string), and non-empty
// when `required` (else missing_field).
Status check_string(const FieldPath& path, std::string_view value, std::size_t max_bytes,
                    ErrorReason too_long, bool required);
inline Status check_name(const FieldPath& path, std::string_view value, const Limits& limits,
                         bool required) {
  return check_string(path, value, limits.max_name_bytes, ErrorReason::kNameTooLong, required);
}

// min_ts_ms <= ts_ms, now_ms - max_past_ms <= ts_ms <= now_ms + max_future_ms.
Status check_timestamp(const FieldPath& path, std::int64_t ts_ms, const Limits& limits,
                       std::int64_t now_ms);

// min_window_ms <= window_ms <= max_window_ms, window_ms divides max_window_ms, and
// window_start_ms is a multiple of window_ms. `path` names the record.
Status check_window(const FieldPath& path, std::int64_t window_start_ms, std::uint32_t window_ms,
                    const Limits& limits);

// A record's sketch and the string saying what it counts (distinct_of, topk_of) come together:
// missing_field when the string is empty but the sketch present, bad_aggregate the other way.
// `record` names the record.
Status check_sketch_subject(const FieldPath& record, std::string_view sketch_field, bool has_sketch,
                            std::string_view of_field, std::string_view of);

}  // namespace edgesketch::wire::internal
