// Bare values as Shelly, ESPHome and Home Assistant publish them on a topic per sensor.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "input/payload_parser.h"

namespace edgesketch::agent {
namespace {

constexpr std::int64_t kNow = 1'704'067'200'000;

ByteSpan bytes(const std::string& s) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

class ValuePayloadTest : public ::testing::Test {
 protected:
  explicit ValuePayloadTest(const char* topic_template = "shellies/{device}/sensor/{metric}") {
    ParserOptions o;
    o.topic_template = *TopicTemplate::parse(topic_template);
    parser_ = PayloadParser(o);
  }
  Status parse(const std::string& payload,
               std::string_view topic = "shellies/shellyht-1/sensor/temperature") {
    buf_.clear();
    return parser_.parse(PayloadFormat::kValue, bytes(payload), kNow, buf_, topic);
  }

  PayloadParser parser_;
  ReadingBuffer buf_;
};

TEST_F(ValuePayloadTest, ShellySensorTopics) {
  ASSERT_TRUE(parse("21.5").ok());
  ASSERT_EQ(buf_.size(), 1u);
  EXPECT_EQ(buf_[0].device_id, "shellyht-1");
  EXPECT_EQ(buf_[0].metric, "temperature");
  EXPECT_EQ(buf_[0].value, 21.5);
  EXPECT_EQ(buf_[0].ts_ms, kNow);
  EXPECT_TRUE(buf_[0].tags.empty());
  ASSERT_TRUE(parse("48", "shellies/shellyht-1/sensor/humidity").ok());
  EXPECT_EQ(buf_[0].metric, "humidity");
  EXPECT_EQ(buf_[0].value, 48.0);
}

TEST_F(ValuePayloadTest, NumbersBooleansAndLabels) {
  const std::pair<std::string, double> numbers[] = {
      {"-3", -3.0},  {"+4.25", 4.25}, {"1e3", 1000.0}, {" 7.5\n", 7.5}, {".5", 0.5},
      {"true", 1.0}, {"TRUE", 1.0},   {"False", 0.0},  {"0", 0.0},
  };
  for (const auto& [text, v] : numbers) {
    ASSERT_TRUE(parse(text).ok()) << text;
    EXPECT_FALSE(buf_[0].is_label) << text;
    EXPECT_EQ(buf_[0].value, v) << text;
  }
  ASSERT_TRUE(parse("1e999").ok());  // out of range: non-finite, the aggregator counts it
  EXPECT_TRUE(std::isinf(buf_[0].value));
  for (std::string label : {"ON", "unavailable", "E017", "nan", "inf", "21.5 C", "22,5"}) {
    ASSERT_TRUE(parse(label).ok()) << label;
    EXPECT_TRUE(buf_[0].is_label) << label;
    EXPECT_EQ(buf_[0].label, label);
    EXPECT_EQ(buf_[0].metric, "temperature");
  }
}

TEST_F(ValuePayloadTest, BadPayloadsCarryReasons) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "missing_field"},
      {" \r\n", "missing_field"},
      {R"({"temperature":21.5})", "malformed_value"},
      {"[1,2]", "malformed_value"},
      {std::string(300, 'x'), "label_too_long"},
      {"a\x07z", "bad_string"},
      {"caf\xc3", "bad_string"},
      {std::string("a\0b", 3), "bad_string"},
  };
  for (const auto& [payload, reason] : cases) {
    ReadingBuffer keep;
    Status s = parser_.parse(PayloadFormat::kValue, bytes(payload), kNow, keep,
                             "shellies/d/sensor/temperature");
    EXPECT_EQ(parse_error_reason(s), reason) << s.to_string();
    EXPECT_TRUE(keep.empty());
  }
  EXPECT_EQ(parse_error_reason(parse("1", "shellies/d/relay/0")), "topic_mismatch");
  EXPECT_EQ(parse_error_reason(parse("1", "shellies/d/sensor/" + std::string(200, 'm'))),
            "name_too_long");
}

// Home Assistant's MQTT statestream: <prefix>/<domain>/<entity>/state.
class StatestreamTest : public ValuePayloadTest {
 protected:
  StatestreamTest() : ValuePayloadTest("homeassistant/{domain}/{device}/{metric}") {}
};

TEST_F(StatestreamTest, TheDomainLevelIsATag) {
  ASSERT_TRUE(parse("19.8", "homeassistant/sensor/kitchen_temperature/state").ok());
  EXPECT_EQ(buf_[0].device_id, "kitchen_temperature");
  EXPECT_EQ(buf_[0].metric, "state");
  EXPECT_EQ(buf_[0].tags, (std::vector<wire::Tag>{{"domain", "sensor"}}));
}

}  // namespace
}  // namespace edgesketch::agent
