// The [enrich] device registry's CSV: quoting, line ends, byte-order mark, empty cells, and every
// error with its line (and column), bounds included.
#include "process/device_registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

namespace edgesketch::agent {
namespace {

using Tags = std::map<std::string, std::string>;

// The tags of `device` as a map, checking the cells come sorted by key.
Tags tags_of(const DeviceRegistry& reg, const std::string& device) {
  const std::uint32_t row = reg.find(device);
  EXPECT_NE(row, DeviceRegistry::kNoRow) << device;
  if (row == DeviceRegistry::kNoRow) return {};
  Tags out;
  std::string last;
  for (const DeviceRegistry::Cell& c : reg.cells(row)) {
    const std::string key(reg.key(c));
    EXPECT_LT(last, key);
    last = key;
    out[key] = std::string(reg.value(c));
  }
  return out;
}

DeviceRegistry parsed(const std::string& text, const RegistryLimits& limits = {}) {
  auto r = DeviceRegistry::parse(text, "devices.csv", limits);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return std::move(r).value();
}

std::string error_of(const std::string& text, const RegistryLimits& limits = {}) {
  auto r = DeviceRegistry::parse(text, "devices.csv", limits);
  EXPECT_FALSE(r.ok()) << "parsed: " << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(DeviceRegistryTest, PlainFile) {
  const DeviceRegistry reg = parsed(
      "device,building,floor\n"
      "dev-0001,b7,3\n"
      "dev-0002,b9,1\n");
  EXPECT_EQ(reg.devices(), 2u);
  EXPECT_EQ(reg.tag_keys(), (std::vector<std::string>{"building", "floor"}));
  EXPECT_EQ(tags_of(reg, "dev-0001"), (Tags{{"building", "b7"}, {"floor", "3"}}));
  EXPECT_EQ(tags_of(reg, "dev-0002"), (Tags{{"building", "b9"}, {"floor", "1"}}));
  EXPECT_EQ(reg.find("dev-0003"), DeviceRegistry::kNoRow);
  EXPECT_EQ(reg.find(""), DeviceRegistry::kNoRow);
  EXPECT_EQ(reg.find("dev-000"), DeviceRegistry::kNoRow);
}

TEST(DeviceRegistryTest, DeviceColumnAnywhereAndCellsSortedByKey) {
  const DeviceRegistry reg = parsed("zone,device,area\nnorth,d1,a1\nsouth,d2,a2\n");
  EXPECT_EQ(reg.tag_keys(), (std::vector<std::string>{"area", "zone"}));
  EXPECT_EQ(tags_of(reg, "d1"), (Tags{{"area", "a1"}, {"zone", "north"}}));
  EXPECT_EQ(tags_of(reg, "d2"), (Tags{{"area", "a2"}, {"zone", "south"}}));
}

TEST(DeviceRegistryTest, QuotedFieldsCrlfBomAndBlankLines) {
  const DeviceRegistry reg = parsed(
      "\xEF\xBB\xBF"
      "device,\"owner, team\",note\r\n"
      "\r\n"
      "\"d,1\",\"ops, north\",\"say \"\"hi\"\"\"\r\n"
      "\n"
      "d2,,\"\"\r\n"
      "d3, spaced ,x");  // no line end at the end
  EXPECT_EQ(reg.devices(), 3u);
  EXPECT_EQ(reg.tag_keys(), (std::vector<std::string>{"note", "owner, team"}));
  EXPECT_EQ(tags_of(reg, "d,1"), (Tags{{"note", "say \"hi\""}, {"owner, team", "ops, north"}}));
  EXPECT_EQ(tags_of(reg, "d2"), Tags{});  // empty cells: no tag
  EXPECT_EQ(tags_of(reg, "d3"), (Tags{{"note", "x"}, {"owner, team", " spaced "}}));
}

TEST(DeviceRegistryTest, HeaderOnlyAndDeviceOnly) {
  EXPECT_EQ(parsed("device,site\n").devices(), 0u);
  const DeviceRegistry reg = parsed("device\nd1\nd2\n");
  EXPECT_EQ(reg.devices(), 2u);
  EXPECT_EQ(tags_of(reg, "d2"), Tags{});
}

TEST(DeviceRegistryTest, ErrorsNameTheLine) {
  EXPECT_EQ(error_of(""), "devices.csv: empty; expected a header row with a 'device' column");
  EXPECT_EQ(error_of("\n\n"), "devices.csv: empty; expected a header row with a 'device' column");
  EXPECT_EQ(error_of("id,site\nd1,s1\n"),
            "devices.csv:1: no 'device' column in the header (it has: id, site); the first row "
            "names the columns, one of them 'device'");
  EXPECT_EQ(error_of("device,site,\n"), "devices.csv:1: column 3 has no name");
  EXPECT_EQ(error_of("device,site,site\n"), "devices.csv:1: column 'site' appears twice");
  EXPECT_EQ(error_of("device,site\nd1,s1\nd2\n"),
            "devices.csv:3: 1 fields, the header has 2 (quote a field that holds a comma)");
  EXPECT_EQ(error_of("device,site\nd1,s1,extra\n"),
            "devices.csv:2: 3 fields, the header has 2 (quote a field that holds a comma)");
  EXPECT_EQ(error_of("device,site\n,s1\n"), "devices.csv:2: the device column is empty");
  EXPECT_EQ(error_of("device,site\nd1,s1\nd2,s2\n\nd1,s3\n"),
            "devices.csv:5: device 'd1' is listed again (first on line 2)");
  EXPECT_EQ(error_of("device,site\nd1,s\"1\n"),
            "devices.csv:2: column 5: a quote inside an unquoted field (quote the whole field and "
            "double the quote: \"say \"\"hi\"\"\")");
  EXPECT_EQ(error_of("device,site\nd1,\"s1\"x\n"),
            "devices.csv:2: column 8: text after the closing quote of a field (a quote inside a "
            "quoted field is written \"\")");
  EXPECT_EQ(error_of("device,site\nd1,\"s1\nd2,s2\n"),
            "devices.csv:2: the quoted field starting at column 4 is not closed");
  EXPECT_EQ(error_of("device,site\nd1,s\r1\n"),
            "devices.csv:2: column 5: a carriage return not followed by a line feed");
  // A quoted field may span lines; a value with a line break is refused, on the line it started.
  EXPECT_EQ(error_of("device,site\nd1,\"s\n1\"\nd2,s2\n"),
            "devices.csv:2: column 'site': not valid UTF-8, or holds a control character");
  EXPECT_EQ(error_of("device,site\nd1,\xff\n"),
            "devices.csv:2: column 'site': not valid UTF-8, or holds a control character");
  EXPECT_EQ(error_of("device,si\x01te\n"),
            "devices.csv:1: column 2: a name must be valid UTF-8 without control characters, at "
            "most 128 bytes");
}

TEST(DeviceRegistryTest, QuotedFieldsDoNotShiftLineNumbers) {
  EXPECT_EQ(error_of("device,note\nd0,x\nd1,\"a,\"\"b\"\"\"\nd2\n"),
            "devices.csv:4: 1 fields, the header has 2 (quote a field that holds a comma)");
}

TEST(DeviceRegistryTest, Bounds) {
  RegistryLimits small;
  small.max_bytes = 20;
  EXPECT_EQ(error_of("device,site\nd1,s1\nd2,s2\n", small),
            "devices.csv: 24 bytes, above the limit of 20 ([enrich] max_bytes)");
  small = {};
  small.max_devices = 2;
  EXPECT_EQ(error_of("device\nd1\nd2\nd3\n", small), "devices.csv:4: more than 2 devices");
  std::string header = "device";
  for (int i = 0; i < 17; ++i) header += ",t" + std::to_string(i);
  EXPECT_EQ(error_of(header + "\n"), "devices.csv:1: 17 tag columns, at most 16");
  EXPECT_EQ(error_of("device,site\nd1," + std::string(129, 'x') + "\n"),
            "devices.csv:2: column 'site': 129 bytes, at most 128");
  EXPECT_EQ(error_of("device\n" + std::string(129, 'd') + "\n"),
            "devices.csv:2: column 'device': 129 bytes, at most 128");
  // A record of thousands of commas stops at the field bound instead of growing.
  EXPECT_NE(error_of("device\n" + std::string(5000, ',') + "\n").find("more than 1024 fields"),
            std::string::npos);
}

TEST(DeviceRegistryTest, ManyDevicesAreFound) {
  std::string text = "device,n\n";
  for (int i = 9999; i >= 0; --i)
    text += "dev-" + std::to_string(i) + "," + std::to_string(i) + "\n";
  const DeviceRegistry reg = parsed(text);
  ASSERT_EQ(reg.devices(), 10'000u);
  for (int i = 0; i < 10'000; i += 37) {
    EXPECT_EQ(tags_of(reg, "dev-" + std::to_string(i)), (Tags{{"n", std::to_string(i)}}));
  }
  EXPECT_EQ(reg.find("dev-10000"), DeviceRegistry::kNoRow);
}

TEST(DeviceRegistryTest, LoadReadsTheFileAndChecksItsSize) {
  char path[] = "/tmp/es-registry-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "device,site\nd1,s1\n";
  auto reg = DeviceRegistry::load(path);
  ASSERT_TRUE(reg.ok()) << reg.status().to_string();
  EXPECT_EQ(tags_of(*reg, "d1"), (Tags{{"site", "s1"}}));
  RegistryLimits small;
  small.max_bytes = 10;
  auto big = DeviceRegistry::load(path, small);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().message(),
            std::string(path) + ": 18 bytes, above the limit of 10 ([enrich] max_bytes)");
  std::ofstream(path) << "device,site\nd1,s1\nd1,s2\n";
  auto dup = DeviceRegistry::load(path);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message(),
            std::string(path) + ":3: device 'd1' is listed again (first on line 2)");
  std::remove(path);
  auto missing = DeviceRegistry::load(path);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(DeviceRegistry::load("/tmp").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgesketch::agent
