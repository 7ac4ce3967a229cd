// UTF-8 decoding (edgesketch/common/utf8.h).
#include "edgesketch/common/utf8.h"

namespace edgesketch {

Utf8Rune decode_utf8(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return {c, 1};
  std::size_t extra;
  std::int32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    extra = 1;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    extra = 2;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    extra = 3;
    cp = c & 0x07;
  } else {
    return {};  // a continuation byte, an overlong 2-byte lead (c0, c1) or past U+10FFFF
  }
  if (s.size() - i <= extra) return {};
  for (std::size_t k = 1; k <= extra; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return {};
    cp = (cp << 6) | (b & 0x3f);
  }
  if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return {};
  }
  return {cp, extra + 1};
}

}  // namespace edgesketch
