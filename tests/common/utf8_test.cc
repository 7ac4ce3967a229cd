// decode_utf8: Go's unicode/utf8 rules, one code point at a time.
#include "edgesketch/common/utf8.h"

#include <gtest/gtest.h>

namespace edgesketch {
namespace {

void expect_rune(std::string_view s, std::int32_t cp, std::size_t len) {
  const Utf8Rune r = decode_utf8(s, 0);
  EXPECT_EQ(r.cp, cp) << s.size();
  EXPECT_EQ(r.len, len) << s.size();
}

TEST(Utf8Test, DecodesEveryLength) {
  expect_rune(std::string_view("\0", 1), 0, 1);
  expect_rune("a", 'a', 1);
  expect_rune("\xc3\xa9", 0xe9, 2);                 // é
  expect_rune("\xe2\x82\xac", 0x20ac, 3);           // €
  expect_rune("\xef\xbf\xbd", 0xfffd, 3);           // U+FFFD itself is valid
  expect_rune("\xf0\x9f\x98\x80", 0x1f600, 4);      // 😀
  expect_rune("\xf4\x8f\xbf\xbf", 0x10ffff, 4);     // the last code point
  EXPECT_EQ(decode_utf8("x\xc3\xa9", 1).cp, 0xe9);  // at an offset
}

TEST(Utf8Test, RefusesWhatGoRefuses) {
  for (std::string_view bad : {
           std::string_view("\x80"),              // a continuation byte
           std::string_view("\xc0\x80"),          // overlong NUL
           std::string_view("\xc1\xbf"),          // overlong
           std::string_view("\xe0\x80\xaf"),      // overlong 3-byte
           std::string_view("\xf0\x80\x80\xaf"),  // overlong 4-byte
           std::string_view("\xed\xa0\x80"),      // a surrogate (U+D800)
           std::string_view("\xf4\x90\x80\x80"),  // past U+10FFFF
           std::string_view("\xf5\x80\x80\x80"),  // a lead byte past U+10FFFF
           std::string_view("\xff"),
           std::string_view("\xc3"),  // cut short
           std::string_view("\xe2\x82"), std::string_view("\xf0\x9f\x98"),
           std::string_view("\xc3\x41"),  // not a continuation
       }) {
    const Utf8Rune r = decode_utf8(bad, 0);
    EXPECT_LT(r.cp, 0) << bad.size();
    EXPECT_EQ(r.len, 1u);
  }
}

}  // namespace
}  // namespace edgesketch
