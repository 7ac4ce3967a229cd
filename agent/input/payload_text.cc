// Shared checks of the text payload formats.
#include "input/payload_text.h"

#include <array>
#include <cstdint>

namespace edgesketch::agent {

std::string_view stable_reason(std::string_view name) {
  static constexpr std::array kText = {kMalformedJson, kMalformedLine, kMalformedValue,
                                       kBadTimestamp,  kTopicMismatch, kArrayValue};
  for (std::string_view r : kText) {
    if (r == name) return r;
  }
  for (auto i = static_cast<int>(wire::ErrorReason::kUnknown) + 1;; ++i) {
    const std::string_view r = wire::reason_name(static_cast<wire::ErrorReason>(i));
    if (r == "unknown") break;  // past the last reason
    if (r == name) return r;
  }
  return wire::reason_name(wire::ErrorReason::kUnknown);
}

Status text_error(std::string_view reason, std::string_view detail) {
  const bool syntax =
      reason == kMalformedJson || reason == kMalformedLine || reason == kMalformedValue;
  std::string m(detail);
  m += " [";
  m += reason;
  m += ']';
  return Status(syntax ? StatusCode::kCorruption : StatusCode::kOutOfRange, std::move(m));
}

Status text_error(wire::ErrorReason reason, std::string_view detail) {
  return wire::wire_error(reason, detail);
}

bool valid_text(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // ASCII runs, eight bytes at a time: no byte with the top bit set and none zero.
    while (end - p >= 8) {
      std::uint64_t w;
      __builtin_memcpy(&w, p, 8);
      constexpr std::uint64_t kOnes = 0x0101010101010101ull;
      constexpr std::uint64_t kHighs = 0x8080808080808080ull;
      if (((w | ((w - kOnes) & ~w)) & kHighs) != 0) break;  // a non-ASCII or a zero byte
      p += 8;
    }
    if (p == end) break;
    const unsigned char c = *p;
    if (c < 0x80) {
      if (c == 0) return false;
      ++p;
      continue;
    }
    int n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    p += n + 1;
  }
  return true;
}

Status check_name(std::string_view what, std::string_view s, std::size_t max, bool required,
                  wire::ErrorReason too_long) {
  if (required && s.empty()) {
    return text_error(wire::ErrorReason::kMissingField, std::string(what) + " is missing or empty");
  }
  if (s.size() > max) {
    return text_error(too_long, std::string(what) + ": " + std::to_string(s.size()) +
                                    " bytes exceed " + std::to_string(max));
  }
  if (!valid_text(s)) {
    return text_error(wire::ErrorReason::kBadString,
                      std::string(what) + " is not valid UTF-8 or contains NUL");
  }
  return Status();
}

Status check_reading(const wire::Reading& r, const wire::Limits& limits, std::size_t index) {
  const auto name_too_long = wire::ErrorReason::kNameTooLong;
  // The error's name of a part of the reading, built only when the check fails.
  auto where = [index](std::string_view part) {
    return "reading " + std::to_string(index) + std::string(part);
  };
  auto check = [&](std::string_view part, std::string_view s, std::size_t max, bool required,
                   wire::ErrorReason too_long) -> Status {
    if ((!required || !s.empty()) && s.size() <= max && valid_text(s)) return Status();
    return check_name(where(part), s, max, required, too_long);
  };
  Status s = check(".device_id", r.device_id, limits.max_name_bytes, true, name_too_long);
  if (s.ok()) s = check(".metric", r.metric, limits.max_name_bytes, true, name_too_long);
  if (s.ok() && r.is_label) {
    s = check(".label", r.label, limits.max_label_bytes, false, wire::ErrorReason::kLabelTooLong);
  }
  if (!s.ok()) return s;
  if (r.tags.size() > limits.max_tags) {
    return text_error(wire::ErrorReason::kTooManyTags,
                      where(": " + std::to_string(r.tags.size()) + " tags exceed max_tags " +
                            std::to_string(limits.max_tags)));
  }
  for (std::size_t i = 0; i < r.tags.size(); ++i) {
    const wire::Tag& t = r.tags[i];
    ES_RETURN_IF_ERROR(check(".tags key", t.key, limits.max_name_bytes, true, name_too_long));
    if (t.value.size() > limits.max_name_bytes || !valid_text(t.value)) {
      return check_name(where(".tags." + t.key), t.value, limits.max_name_bytes, false,
                        name_too_long);
    }
    if (i > 0 && r.tags[i - 1].key == t.key) {
      return text_error(wire::ErrorReason::kDuplicateTag,
                        where(": tag key \"" + t.key + "\" appears twice"));
    }
  }
  if (r.ts_ms < limits.min_ts_ms) {
    return text_error(kBadTimestamp,
                      where(": timestamp " + std::to_string(r.ts_ms) + " ms is before min_ts_ms " +
                            std::to_string(limits.min_ts_ms) + " (device clock not set?)"));
  }
  return Status();
}

}  // namespace edgesketch::agent
