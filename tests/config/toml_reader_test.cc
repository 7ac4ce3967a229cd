#include "edgesketch/config/toml_reader.h"

#include <gtest/gtest.h>

namespace edgesketch::config {
namespace {

std::unique_ptr<TomlDocument> parse(std::string_view text) {
  auto doc = TomlDocument::parse(text, "test.toml");
  EXPECT_TRUE(doc.ok()) << doc.status().to_string();
  return std::move(*doc);
}

TEST(TomlReaderTest, ReadsTypedValuesWithDefaults) {
  auto doc = parse(R"(
name = "gw-1"
port = 9781
ratio = 0.5
on = true
window = "10s"
size = "64MiB"
raw = 4096
topics = ["a", "b"]
[http]
listen = "127.0.0.1:1"
[[rule]]
match = "temp*"
[[rule]]
match = "vib"
)");
  TomlTable root = doc->root();
  EXPECT_EQ(root.string("name"), "gw-1");
  EXPECT_EQ(root.string("absent", "x"), "x");
  EXPECT_EQ(root.integer("port", 0, 1, 65535), 9781);
  EXPECT_EQ(root.number("ratio", 0), 0.5);
  EXPECT_TRUE(root.boolean("on", false));
  EXPECT_EQ(root.duration_ms("window", 0), 10'000);
  EXPECT_EQ(root.bytes("size", 0), 64u << 20);
  EXPECT_EQ(root.bytes("raw", 0), 4096u);
  EXPECT_EQ(root.strings("topics"), (std::vector<std::string>{"a", "b"}));
  TomlTable http = root.table("http");
  EXPECT_EQ(http.string("listen"), "127.0.0.1:1");
  http.finish();
  std::vector<TomlTable> rules = root.tables("rule");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].string("match"), "temp*");
  EXPECT_EQ(rules[1].string("match"), "vib");
  for (auto& r : rules) r.finish();
  TomlTable absent = root.table("nothing");
  EXPECT_EQ(absent.integer("x", 7, 0, 10), 7);
  absent.finish();
  root.finish();
  EXPECT_TRUE(doc->status().ok()) << doc->status().to_string();
}

TEST(TomlReaderTest, UnknownKeysAndTypeErrorsNameTheKeyPath) {
  auto doc = parse(R"(
port = "x"
[[rule]]
match = "a"
[[rule]]
match = "b"
windw = "10s"
[outbox]
max_bytes = "12 MB"
)");
  TomlTable root = doc->root();
  root.integer("port", 0, 0, 10);
  for (TomlTable& r : root.tables("rule")) {
    r.string("match");
    r.finish();
  }
  TomlTable outbox = root.table("outbox");
  outbox.bytes("max_bytes", 0);
  outbox.finish();
  root.finish();
  const std::string all = doc->status().to_string();
  EXPECT_NE(all.find("test.toml: 'port': expected an integer"), std::string::npos) << all;
  EXPECT_NE(all.find("test.toml: unknown key 'rule[1].windw'"), std::string::npos) << all;
  EXPECT_NE(all.find("'outbox.max_bytes': '12 MB' is not a size"), std::string::npos) << all;
  EXPECT_EQ(doc->errors().size(), 3u);
}

TEST(TomlReaderTest, SyntaxErrorsHaveLineAndColumn) {
  auto doc = TomlDocument::parse("a = 1\nb = = 2\n", "bad.toml");
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.status().message().find("bad.toml:2:"), std::string::npos)
      << doc.status().to_string();
}

TEST(TomlReaderTest, MissingFileIsNotFound) {
  auto doc = TomlDocument::parse_file("/nonexistent/edgesketch.toml");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), StatusCode::kNotFound);
}

TEST(TomlReaderTest, OutOfRangeIntegers) {
  auto doc = parse("port = 70000\n");
  TomlTable root = doc->root();
  EXPECT_EQ(root.integer("port", 1, 1, 65535), 1);
  EXPECT_NE(doc->status().to_string().find("'port': 70000 is out of range [1, 65535]"),
            std::string::npos);
}

TEST(TomlReaderTest, OutOfRangeDurationsAndSizes) {
  auto doc = parse("fast = \"5ms\"\nslow = \"2s\"\nsmall = \"1KiB\"\nbig = \"2MiB\"\n");
  TomlTable root = doc->root();
  EXPECT_EQ(root.duration_ms("fast", 100, 10, 60'000), 100);
  EXPECT_EQ(root.duration_ms("slow", 100, 10, 60'000), 2'000);
  EXPECT_EQ(root.duration_ms("absent", 100, 10, 60'000), 100);
  EXPECT_EQ(root.bytes("small", 4096, 4096, 1u << 20), 4096u);
  EXPECT_EQ(root.bytes("big", 4096, 4096, 4u << 20), 2u << 20);
  const std::string errors = doc->status().to_string();
  EXPECT_NE(errors.find("'fast': 5 ms is out of range [10, 60000]"), std::string::npos) << errors;
  EXPECT_NE(errors.find("'small': 1024 bytes is out of range [4096, 1048576]"), std::string::npos)
      << errors;
  EXPECT_EQ(errors.find("'slow'"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("'big'"), std::string::npos) << errors;
}

}  // namespace
}  // namespace edgesketch::config
