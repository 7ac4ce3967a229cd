// Checks shared by the decoders.
#include "validation.h"

#include <limits>

#include <fmt/format.h>

#include "edgesketch/common/utf8.h"

namespace edgesketch::wire::internal {
namespace {

// a + b, clamped to the int64 range (now_ms and the bounds come from configuration).
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  }
  return r;
}

// Up to 32 bytes of `s`, escaped, for a message about a string that failed a check.
std::string preview(std::string_view s) {
  constexpr std::size_t kMax = 32;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  out += s.size() > kMax ? "\"..." : "\"";
  return out;
}

}  // namespace

std::string FieldPath::str() const {
  std::string prefix = parent ? parent->str() + "." : std::string();
  if (index == kNoIndex) return prefix + std::string(name);
  return fmt::format("{}{}[{}]", prefix, name, index);
}

Status field_error(ErrorReason reason, const FieldPath& path, std::string_view detail) {
  return wire_error(reason, fmt::format("{}: {}", path.str(), detail));
}

Status check_payload_size(const FieldPath& root, std::size_t size, const Limits& limits) {
  if (size <= limits.max_payload_bytes) return Status();
  return field_error(
      ErrorReason::kPayloadTooLarge, root,
      fmt::format("{} bytes exceed max_payload_bytes {}", size, limits.max_payload_bytes));
}

bool is_clean_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == '\0') return false;
    const Utf8Rune r = decode_utf8(s, i);
    if (r.cp < 0) return false;
    i += r.len;
  }
  return true;
}

Status check_string(const FieldPath& path, std::string_view value, std::size_t max_bytes,
                    ErrorReason too_long, bool required) {
  if (value.size() > max_bytes) {
    return field_error(too_long, path,
                       fmt::format("{} bytes ({}) exceed the limit of {}", value.size(),
                                   preview(value), max_bytes));
  }
  if (required && value.empty()) return field_error(ErrorReason::kMissingField, path, "is empty");
  if (!is_clean_utf8(value)) {
    return field_error(ErrorReason::kBadString, path,
                       fmt::format("{} is not valid UTF-8 or contains NUL", preview(value)));
  }
  return Status();
}

Status check_timestamp(const FieldPath& path, std::int64_t ts_ms, const Limits& limits,
                       std::int64_t now_ms) {
  if (ts_ms < limits.min_ts_ms) {
    return field_error(ErrorReason::kClockPast, path,
                       fmt::format("{} is before min_ts_ms {} (is the sender's clock set?)", ts_ms,
                                   limits.min_ts_ms));
  }
  const std::int64_t earliest = saturating_add(now_ms, -limits.max_past_ms);
  if (ts_ms < earliest) {
    return field_error(ErrorReason::kClockPast, path,
                       fmt::format("{} is more than max_past_ms {} before now {}", ts_ms,
                                   limits.max_past_ms, now_ms));
  }
  const std::int64_t latest = saturating_add(now_ms, limits.max_future_ms);
  if (ts_ms > latest) {
    return field_error(ErrorReason::kClockFuture, path,
                       fmt::format("{} is more than max_future_ms {} after now {}", ts_ms,
                                   limits.max_future_ms, now_ms));
  }
  return Status();
}

Status check_window(const FieldPath& path, std::int64_t window_start_ms, std::uint32_t window_ms,
                    const Limits& limits) {
  if (window_ms < limits.min_window_ms || window_ms > limits.max_window_ms) {
    return field_error(ErrorReason::kBadWindow, path.child("window_ms"),
                       fmt::format("{} is outside [min_window_ms {}, max_window_ms {}]", window_ms,
                                   limits.min_window_ms, limits.max_window_ms));
  }
  if (limits.max_window_ms % window_ms != 0) {
    return field_error(
        ErrorReason::kBadWindow, path.child("window_ms"),
        fmt::format("{} does not divide max_window_ms {}", window_ms, limits.max_window_ms));
  }
  if (window_start_ms % window_ms != 0) {
    return field_error(
        ErrorReason::kBadWindow, path.child("window_start_ms"),
        fmt::format("{} is not a multiple of window_ms {}", window_start_ms, window_ms));
  }
  return Status();
}

Status check_sketch_subject(const FieldPath& record, std::string_view sketch_field, bool has_sketch,
                            std::string_view of_field, std::string_view of) {
  if (has_sketch && of.empty()) {
    return field_error(ErrorReason::kMissingField, record.child(of_field),
                       fmt::format("is empty but the record has a {}", sketch_field));
  }
  if (!has_sketch && !of.empty()) {
    return field_error(ErrorReason::kBadAggregate, record.child(of_field),
                       fmt::format("is \"{}\" but the record has no {}", of, sketch_field));
  }
  return Status();
}

}  // namespace edgesketch::wire::internal
