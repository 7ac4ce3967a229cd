// json_fields on what Zigbee2MQTT, Tasmota and Shelly publish: leaves named by key path,
// booleans, strings as labels or ignored, arrays skipped and counted, every time format, and
// bad leaves that are skipped while the rest of the object is taken.
#include <gtest/gtest.h>

#include <string>

#include "input/payload_parser.h"

namespace edgesketch::agent {
namespace {

constexpr std::int64_t kNow = 1'796'652'060'000;

ByteSpan bytes(const std::string& s) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

class JsonFieldsPayloadTest : public ::testing::Test {
 protected:
  void configure(const std::string& topic_template, const std::string& time_field = "",
                 TimeFormat time_format = TimeFormat::kRfc3339,
                 StringLeaves strings = StringLeaves::kLabels) {
    ParserOptions o;
    if (!topic_template.empty()) o.topic_template = *TopicTemplate::parse(topic_template);
    o.time_field = time_field;
    o.time_format = time_format;
    o.strings = strings;
    parser_ = PayloadParser(o);
  }
  Status parse(const std::string& payload, std::string_view topic) {
    buf_.clear();
    return parser_.parse(PayloadFormat::kJsonFields, bytes(payload), kNow, buf_, topic);
  }
  // metric -> reading, for readings whose metrics are unique.
  const wire::Reading& at(const std::string& metric) const {
    for (std::size_t i = 0; i < buf_.size(); ++i) {
      if (buf_[i].metric == metric) return buf_[i];
    }
    ADD_FAILURE() << "no reading of " << metric;
    return missing_;
  }
  std::vector<std::pair<std::string, std::uint64_t>> skipped() const {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (const auto& c : parser_.skipped().by_reason()) out.emplace_back(c.reason, c.items);
    return out;
  }

  PayloadParser parser_;
  ReadingBuffer buf_;
  wire::Reading missing_;
};

TEST_F(JsonFieldsPayloadTest, Zigbee2MqttDeviceObject) {
  configure("zigbee2mqtt/{device}");
  ASSERT_TRUE(parse(R"({"temperature":21.5,"humidity":48,"battery":97,"linkquality":120,)"
                    R"("state":"ON"})",
                    "zigbee2mqtt/living_room_sensor")
                  .ok());
  ASSERT_EQ(buf_.size(), 5u);
  EXPECT_EQ(at("temperature").value, 21.5);
  EXPECT_EQ(at("humidity").value, 48.0);
  EXPECT_EQ(at("battery").value, 97.0);
  EXPECT_EQ(at("linkquality").value, 120.0);
  EXPECT_TRUE(at("state").is_label);
  EXPECT_EQ(at("state").label, "ON");
  for (std::size_t i = 0; i < buf_.size(); ++i) {
    EXPECT_EQ(buf_[i].device_id, "living_room_sensor");
    EXPECT_EQ(buf_[i].ts_ms, kNow);  // no time field: the receive time
    EXPECT_TRUE(buf_[i].tags.empty());
  }
  EXPECT_TRUE(parser_.skipped().empty());
}

// A richer Zigbee2MQTT message: nested objects, null, booleans, an array, and last_seen as the
// time (Zigbee2MQTT's `advanced: last_seen: epoch`).
TEST_F(JsonFieldsPayloadTest, Zigbee2MqttNestedWithLastSeen) {
  configure("zigbee2mqtt/{device}", "last_seen", TimeFormat::kUnixMs);
  ASSERT_TRUE(parse(R"({"battery":100,"color":{"x":0.3,"y":0.32},"color_options":[1,2],)"
                    R"("update":{"installed_version":587765297,"state":"idle"},)"
                    R"("update_available":null,"child_lock":false,"occupancy":true,)"
                    R"("last_seen":1796652000123})",
                    "zigbee2mqtt/0x00158d0001")
                  .ok());
  ASSERT_EQ(buf_.size(), 7u);
  EXPECT_EQ(at("color_x").value, 0.3);
  EXPECT_EQ(at("color_y").value, 0.32);
  EXPECT_EQ(at("update_installed_version").value, 587765297.0);
  EXPECT_EQ(at("update_state").label, "idle");
  EXPECT_EQ(at("child_lock").value, 0.0);
  EXPECT_EQ(at("occupancy").value, 1.0);
  EXPECT_EQ(at("battery").ts_ms, 1'796'652'000'123);
  EXPECT_EQ(skipped(), (std::vector<std::pair<std::string, std::uint64_t>>{{"array_value", 1}}));
}

// Tasmota tele/<device>/SENSOR: "Time" is local time without an offset (taken as UTC).
TEST_F(JsonFieldsPayloadTest, TasmotaSensorWithTime) {
  configure("tele/{device}/SENSOR", "Time");
  ASSERT_TRUE(parse(R"({"Time":"2026-12-07T14:00:00","AM2301":{"Temperature":21.3,)"
                    R"("Humidity":40.1,"DewPoint":7.4},"TempUnit":"C"})",
                    "tele/tasmota_A1B2C3/SENSOR")
                  .ok());
  ASSERT_EQ(buf_.size(), 4u);
  EXPECT_EQ(at("AM2301_Temperature").value, 21.3);
  EXPECT_EQ(at("AM2301_Humidity").value, 40.1);
  EXPECT_EQ(at("AM2301_DewPoint").value, 7.4);
  EXPECT_EQ(at("TempUnit").label, "C");
  for (std::size_t i = 0; i < buf_.size(); ++i) {
    EXPECT_EQ(buf_[i].device_id, "tasmota_A1B2C3");
    EXPECT_EQ(buf_[i].ts_ms, 1'796'652'000'000);
  }
  // strings = "ignore" leaves TempUnit out.
  configure("tele/{device}/SENSOR", "Time", TimeFormat::kRfc3339, StringLeaves::kIgnore);
  ASSERT_TRUE(parse(R"({"Time":"2026-12-07T14:00:00+01:00","AM2301":{"Temperature":21.3},)"
                    R"("TempUnit":"C"})",
                    "tele/t1/SENSOR")
                  .ok());
  ASSERT_EQ(buf_.size(), 1u);
  EXPECT_EQ(buf_[0].ts_ms, 1'796'648'400'000);
  // Tasmota's other telemetry on the same subscription (tele/+/STATE) is not the template's.
  EXPECT_EQ(parse_error_reason(parse(R"({"Time":"2026-12-07T14:00:00"})", "tele/t1/STATE")),
            "topic_mismatch");
}

// Shelly Gen2 status objects; the template's other levels become tags.
TEST_F(JsonFieldsPayloadTest, ShellyStatusWithTopicTags) {
  configure("{site}/{device}/status/{component}");
  ASSERT_TRUE(
      parse(R"({"id":0,"tC":21.5,"tF":70.7})", "barn/shellyplusht-1/status/temperature:0").ok());
  ASSERT_EQ(buf_.size(), 3u);
  EXPECT_EQ(at("tC").value, 21.5);
  EXPECT_EQ(at("tC").tags,
            (std::vector<wire::Tag>{{"component", "temperature:0"}, {"site", "barn"}}));
}

TEST_F(JsonFieldsPayloadTest, EveryTimeFormat) {
  struct Case {
    TimeFormat format;
    std::string leaf;
    std::int64_t ms;
  };
  for (const Case& c :
       {Case{TimeFormat::kUnixS, "1796652000", 1'796'652'000'000},
        Case{TimeFormat::kUnixS, "1796652000.25", 1'796'652'000'250},
        Case{TimeFormat::kUnixS, "\"1796652000\"", 1'796'652'000'000},
        Case{TimeFormat::kUnixMs, "1796652000123", 1'796'652'000'123},
        Case{TimeFormat::kUnixMs, "1.796652000123e12", 1'796'652'000'123},
        Case{TimeFormat::kUnixNs, "1796652000123456789", 1'796'652'000'123},
        Case{TimeFormat::kRfc3339, "\"2026-12-07T14:00:00.123Z\"", 1'796'652'000'123}}) {
    SCOPED_TRACE(std::string(time_format_name(c.format)) + " " + c.leaf);
    configure("d/{device}", "meta_ts", c.format);
    ASSERT_TRUE(parse(R"({"v":1,"meta":{"ts":)" + c.leaf + "}}", "d/x").ok());
    ASSERT_EQ(buf_.size(), 1u);  // the time leaf is no reading
    EXPECT_EQ(buf_[0].ts_ms, c.ms);
  }
}

TEST_F(JsonFieldsPayloadTest, WhatTheWholePayloadNeedsRefusesIt) {
  configure("d/{device}", "time", TimeFormat::kUnixS);
  const std::pair<std::string, std::string> cases[] = {
      {R"({"v":1,"time":17966)", "malformed_json"},
      {R"([{"v":1}])", "malformed_json"},
      {R"({"v":1,"time":1796652000} trailing)", "malformed_json"},
      {"", "malformed_json"},
      {R"({"v":1})", "missing_field"},                // no time leaf
      {R"({"v":1,"time":"soon"})", "bad_timestamp"},  // not unix_s
      {R"({"v":1,"time":5})", "bad_timestamp"},       // 1970: an unset clock
      {R"({"v":1,"time":1e300})", "bad_timestamp"},
      {std::string(40, '[') + std::string(40, ']'), "malformed_json"},
  };
  for (const auto& [payload, reason] : cases) {
    ReadingBuffer keep;
    keep.append().metric = "sentinel";
    Status s = parser_.parse(PayloadFormat::kJsonFields, bytes(payload), kNow, keep, "d/x");
    EXPECT_EQ(parse_error_reason(s), reason) << payload << ": " << s.to_string();
    EXPECT_EQ(keep.size(), 1u) << payload;
  }
  std::string deep = R"({"time":1796652000,"v":)";
  for (int i = 0; i < 40; ++i) deep += R"({"a":)";
  deep += "1" + std::string(40, '}') + "}";
  EXPECT_EQ(parse_error_reason(parse(deep, "d/x")), "malformed_json");
  // No device: no template and no devices/<id> level.
  configure("");
  EXPECT_EQ(parse_error_reason(parse(R"({"v":1})", "sensors/x")), "missing_field");
  ASSERT_TRUE(parse(R"({"v":1})", "devices/dev-3/state").ok());
  EXPECT_EQ(buf_[0].device_id, "dev-3");
}

// A bad leaf costs only itself.
TEST_F(JsonFieldsPayloadTest, ABadLeafCostsOnlyItself) {
  configure("d/{device}");
  const std::pair<std::string, std::string> cases[] = {
      {R"("list":[1,2,3])", "array_value"},
      {"\"" + std::string(130, 'k') + "\":1", "name_too_long"},
      {R"("a":{")" + std::string(127, 'k') + "\":1}", "name_too_long"},
      {"\"s\":\"" + std::string(300, 'x') + "\"", "label_too_long"},
      {R"("s":"a\u0000b")", "bad_string"},
      {"\"s\":\"\xff\"", "bad_string"},
      {R"("k\u0000":1)", "bad_string"},
      {R"("":1)", "missing_field"},
  };
  for (const auto& [leaf, reason] : cases) {
    SCOPED_TRACE(leaf);
    ASSERT_TRUE(parse(R"({"before":1,)" + leaf + R"(,"after":{"x":2}})", "d/x").ok());
    ASSERT_EQ(buf_.size(), 2u);
    EXPECT_EQ(buf_[0].metric, "before");
    EXPECT_EQ(buf_[1].metric, "after_x");
    EXPECT_EQ(skipped(), (std::vector<std::pair<std::string, std::uint64_t>>{{reason, 1}}));
  }
  // Only bad leaves: the payload is refused with the first one's reason.
  EXPECT_EQ(parse_error_reason(parse(R"({"a":[1],"b":[2]})", "d/x")), "array_value");
  EXPECT_EQ(parser_.skipped().total(), 2u);
  // Only ignored leaves: nothing to take, nothing wrong.
  configure("d/{device}", "", TimeFormat::kRfc3339, StringLeaves::kIgnore);
  ASSERT_TRUE(parse(R"({"state":"ON","n":null})", "d/x").ok());
  EXPECT_TRUE(buf_.empty());
  EXPECT_TRUE(parser_.skipped().empty());
}

TEST_F(JsonFieldsPayloadTest, LeavesPastTheReadingLimitAreSkippedAndCounted) {
  configure("d/{device}");
  std::string p = "{";
  for (int i = 0; i < 4100; ++i) p += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  ASSERT_TRUE(parse(p + "}", "d/x").ok());
  EXPECT_EQ(buf_.size(), 4096u);
  EXPECT_EQ(skipped(),
            (std::vector<std::pair<std::string, std::uint64_t>>{{"too_many_readings", 4}}));
}

}  // namespace
}  // namespace edgesketch::agent
