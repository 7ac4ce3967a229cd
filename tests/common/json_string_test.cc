// append_json_string: Go encoding/json's escaping, which the Prometheus API responses need.
#include "edgesketch/common/json_string.h"

#include <gtest/gtest.h>

#include <string>

namespace edgesketch {
namespace {

std::string as_json(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonString, EscapesLikeGo) {
  EXPECT_EQ(as_json(std::string("a\"\\\n\x01<>&\xff\xe2\x80\xa8", 12)),
            R"("a\"\\\n\u0001\u003c\u003e\u0026\ufffd\u2028")");
  EXPECT_EQ(as_json("\r\t\x1f\xe2\x80\xa9"), R"("\r\t\u001f\u2029")");
  EXPECT_EQ(as_json(""), R"("")");
}

TEST(JsonString, KeepsValidUtf8AndReplacesEachInvalidByte) {
  EXPECT_EQ(as_json("d\xc3\xa9j\xc3\xa0 \xf0\x9f\x8c\xa1"),
            "\"d\xc3\xa9j\xc3\xa0 \xf0\x9f\x8c\xa1\"");
  // Overlong, surrogate, truncated and out-of-range sequences: one U+FFFD per byte.
  EXPECT_EQ(as_json("\xc0\xaf"), R"("\ufffd\ufffd")");
  EXPECT_EQ(as_json("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");
  EXPECT_EQ(as_json("x\xe2\x82"), R"("x\ufffd\ufffd")");
  EXPECT_EQ(as_json("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");
}

}  // namespace
}  // namespace edgesketch
