// The parsers' steady state allocates nothing: once a parser and a ReadingBuffer have seen a
// payload of some shape, parsing the next payload of that shape touches no allocator. This binary
// replaces the global operator new to count the calls made while a payload is parsed.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "input/payload_parser.h"

namespace {

std::atomic<bool> counting{false};
std::atomic<std::uint64_t> allocations{0};

}  // namespace

void* operator new(std::size_t n) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace edgesketch::agent {
namespace {

constexpr std::int64_t kNow = 1'704'067'260'000;

ByteSpan bytes(const std::string& s) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// Parses `second` after `first` (same shape) and returns the allocations the second one made.
std::uint64_t allocations_of_second(PayloadParser& parser, PayloadFormat format,
                                    const std::string& first, const std::string& second,
                                    std::string_view topic) {
  ReadingBuffer buf;
  EXPECT_TRUE(parser.parse(format, bytes(first), kNow, buf, topic).ok());
  const std::size_t n = buf.size();
  buf.clear();
  allocations = 0;
  counting = true;
  Status s = parser.parse(format, bytes(second), kNow, buf, topic);
  counting = false;
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(buf.size(), n);
  return allocations.load();
}

std::string telegraf_batch(int seed) {
  std::string p;
  for (int i = 0; i < 1000; ++i) {
    p += "iot,device=gateway-basement-" + std::to_string((i + seed) % 100) +
         ",line=line-0,site=site-01 temperature=" + std::to_string(20 + (i + seed) % 7) +
         ".25,humidity=45.5,pressure=1013.25,vibration=0.41" + std::to_string(seed % 10) + " " +
         std::to_string(1704067200000 + i) + "\n";
  }
  return p;
}

TEST(ParserAllocationTest, LineProtocolBatchesAllocateNothing) {
  PayloadParser parser;
  EXPECT_EQ(allocations_of_second(parser, PayloadFormat::kLine, telegraf_batch(1),
                                  telegraf_batch(2), "telegraf/gw/iot"),
            0u);
}

TEST(ParserAllocationTest, JsonFieldsObjectsAllocateNothing) {
  ParserOptions o;
  o.topic_template = *TopicTemplate::parse("zigbee2mqtt/{device}");
  o.time_field = "last_seen";
  o.time_format = TimeFormat::kUnixMs;
  PayloadParser parser(o);
  const std::string a =
      R"({"temperature":21.5,"humidity":48,"battery":97,"linkquality":120,"state":"ON",)"
      R"("update":{"state":"idle","installed_version":587765297},"last_seen":1704067200123})";
  const std::string b =
      R"({"temperature":22.25,"humidity":47,"battery":96,"linkquality":117,"state":"OFF",)"
      R"("update":{"state":"idle","installed_version":587765297},"last_seen":1704067201123})";
  EXPECT_EQ(allocations_of_second(parser, PayloadFormat::kJsonFields, a, b,
                                  "zigbee2mqtt/0x00158d00045a1b2c_living_room"),
            0u);
}

TEST(ParserAllocationTest, BareValuesAllocateNothing) {
  ParserOptions o;
  o.topic_template = *TopicTemplate::parse("shellies/{site}/{device}/sensor/{metric}");
  PayloadParser parser(o);
  EXPECT_EQ(allocations_of_second(parser, PayloadFormat::kValue, "21.5", "unavailable-for-now",
                                  "shellies/greenhouse-north/shellyht-0123456789/sensor/"
                                  "temperature"),
            1u);  // the label's first use of its string
  EXPECT_EQ(allocations_of_second(parser, PayloadFormat::kValue, "21.5", "22.75",
                                  "shellies/greenhouse-north/shellyht-0123456789/sensor/"
                                  "temperature"),
            0u);
}

}  // namespace
}  // namespace edgesketch::agent
