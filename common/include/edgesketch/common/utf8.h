// UTF-8 decoding, as strict as Go's unicode/utf8 (the rules Prometheus and the collector's JSON
// follow): no overlong forms, no surrogates, nothing past U+10FFFF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace edgesketch {

// One code point decoded from a string: `cp` < 0 when the bytes at the position do not start a
// valid UTF-8 sequence (then `len` is 1, the byte to skip).
struct Utf8Rune {
  std::int32_t cp = -1;
  std::size_t len = 1;
};

// Decodes the code point at s[i] (i < s.size()); ASCII bytes, NUL included, are their own code
// point.
Utf8Rune decode_utf8(std::string_view s, std::size_t i);

}  // namespace edgesketch
