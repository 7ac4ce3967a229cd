// ErrorReason names and the Status convention that carries them.
#include "edgesketch/wire/error_reason.h"

#include <array>
#include <string>

namespace edgesketch::wire {
namespace {

struct ReasonInfo {
  ErrorReason reason;
  std::string_view name;
  StatusCode code;
};

// Indexed by ErrorReason.
constexpr std::array kReasons = {
    ReasonInfo{ErrorReason::kUnknown, "unknown", StatusCode::kInternal},
    ReasonInfo{ErrorReason::kPayloadTooLarge, "payload_too_large", StatusCode::kOutOfRange},
    ReasonInfo{ErrorReason::kTruncated, "truncated", StatusCode::kCorruption},
    ReasonInfo{ErrorReason::kMalformed, "malformed", StatusCode::kCorruption},
    ReasonInfo{ErrorReason::kSchemaVersion, "schema_version", StatusCode::kCorruption},
    ReasonInfo{ErrorReason::kMissingField, "missing_field", StatusCode::kInvalidArgument},
    ReasonInfo{ErrorReason::kBadString, "bad_string", StatusCode::kInvalidArgument},
    ReasonInfo{ErrorReason::kNameTooLong, "name_too_long", StatusCode::kOutOfRange},
    ReasonInfo{ErrorReason::kLabelTooLong, "label_too_long", StatusCode::kOutOfRange},
    ReasonInfo{ErrorReason::kTooManyReadings, "too_many_readings", StatusCode::kOutOfRange},
    ReasonInfo{ErrorReason::kTooManyRecords, "too_many_records", StatusCode::kOutOfRange},
    ReasonInfo{ErrorReason::kTooManyAckEntries, "too_many_ack_entries", StatusCode::kOutOfRange},
    ReasonInfo{ErrorReason::kTooManyTags, "too_many_tags", StatusCode::kOutOfRange},
    ReasonInfo{ErrorReason::kTagOrder, "tag_order", StatusCode::kInvalidArgument},
    ReasonInfo{ErrorReason::kDuplicateTag, "duplicate_tag", StatusCode::kInvalidArgument},
    ReasonInfo{ErrorReason::kBadSamples, "bad_samples", StatusCode::kInvalidArgument},
    ReasonInfo{ErrorReason::kClockPast, "clock_past", StatusCode::kOutOfRange},
    ReasonInfo{ErrorReason::kClockFuture, "clock_future", StatusCode::kOutOfRange},
    ReasonInfo{ErrorReason::kBadWindow, "bad_window", StatusCode::kInvalidArgument},
    ReasonInfo{ErrorReason::kBadAggregate, "bad_aggregate", StatusCode::kInvalidArgument},
    ReasonInfo{ErrorReason::kSketchTooLarge, "sketch_too_large", StatusCode::kOutOfRange},
    ReasonInfo{ErrorReason::kBadSketch, "bad_sketch", StatusCode::kCorruption},
    ReasonInfo{ErrorReason::kOutOfMemory, "out_of_memory", StatusCode::kResourceExhausted},
    ReasonInfo{ErrorReason::kBadCompression, "bad_compression", StatusCode::kCorruption},
};

constexpr bool reasons_in_enum_order() {
  for (std::size_t i = 0; i < kReasons.size(); ++i) {
    if (static_cast<std::size_t>(kReasons[i].reason) != i) return false;
  }
  return true;
}
static_assert(reasons_in_enum_order(), "kReasons must list every ErrorReason in enum order");

const ReasonInfo& info(ErrorReason reason) {
  auto i = static_cast<std::size_t>(reason);
  return i < kReasons.size() ? kReasons[i] : kReasons[0];
}

}  // namespace

std::string_view reason_name(ErrorReason reason) { return info(reason).name; }

ErrorReason error_reason(const Status& status) {
  std::string_view m = status.message();
  if (status.ok() || m.empty() || m.back() != ']') return ErrorReason::kUnknown;
  auto open = m.rfind(" [");
  if (open == std::string_view::npos) return ErrorReason::kUnknown;
  std::string_view name = m.substr(open + 2, m.size() - open - 3);
  for (const auto& r : kReasons) {
    if (r.name == name) return r.reason;
  }
  return ErrorReason::kUnknown;
}

Status wire_error(ErrorReason reason, std::string_view detail) {
  const ReasonInfo& r = info(reason);
  std::string message;
  message.reserve(detail.size() + r.name.size() + 3);
  message.append(detail).append(" [").append(r.name).append("]");
  return Status(r.code, std::move(message));
}

}  // namespace edgesketch::wire
