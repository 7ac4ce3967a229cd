// The JSON and line protocol parsers on exact sim-shaped payloads, their documented variants and
// hostile input (every error carries a reason; a rejected payload leaves the buffer unchanged).
// line_payload_test.cc has line protocol's every-field readings and per-line errors.
#include "input/payload_parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "edgesketch/wire/codec.h"

namespace edgesketch::agent {
namespace {

constexpr std::int64_t kNow = 1'700'000'100'000;

ByteSpan bytes(const std::string& s) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

class PayloadParserTest : public ::testing::Test {
 protected:
  // `topic_device`: the payload arrives on devices/<topic_device>/readings.
  Status json(const std::string& s, std::string_view topic_device = {}) {
    return parser_.parse(PayloadFormat::kJson, bytes(s), kNow, buf_, topic(topic_device));
  }
  Status line(const std::string& s, std::string_view topic_device = {}) {
    return parser_.parse(PayloadFormat::kLine, bytes(s), kNow, buf_, topic(topic_device));
  }
  static std::string topic(std::string_view device) {
    return device.empty() ? "" : "devices/" + std::string(device) + "/readings";
  }
  void expect_reason(const Status& s, std::string_view reason) {
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(parse_error_reason(s), reason) << s.to_string();
  }

  PayloadParser parser_;
  ReadingBuffer buf_;
};

TEST_F(PayloadParserTest, JsonAsTheSimSendsIt) {
  const std::string p =
      R"({"device_id":"dev-0001","tags":{"site":"site-01","line":"line-0"},"batch_seq":7,)"
      R"("readings":[{"metric":"vibration","ts_ms":1700000000005,"value":0.81},)"
      R"({"metric":"event","ts_ms":1700000000009,"label":"E017"}]})";
  ASSERT_TRUE(json(p).ok());
  ASSERT_EQ(buf_.size(), 2u);
  const wire::Reading& a = buf_[0];
  EXPECT_EQ(a.device_id, "dev-0001");
  EXPECT_EQ(a.metric, "vibration");
  EXPECT_EQ(a.ts_ms, 1'700'000'000'005);
  EXPECT_EQ(a.value, 0.81);
  EXPECT_FALSE(a.is_label);
  EXPECT_EQ(a.tags, (std::vector<wire::Tag>{{"line", "line-0"}, {"site", "site-01"}}));
  EXPECT_TRUE(buf_[1].is_label);
  EXPECT_EQ(buf_[1].label, "E017");
  EXPECT_EQ(buf_[1].tags.size(), 2u);
}

TEST_F(PayloadParserTest, JsonVariants) {
  // Keys in any order, whitespace, per-reading tags overriding batch tags, unknown keys skipped,
  // device from the topic, integral float timestamps, escapes.
  const std::string p = R"( {
    "readings": [ {"value": 1e3, "ts": 1.7e12, "metric": "t\u00e9mp", "extra": {"a": [1, null, true]},
                   "tags": {"site": "s2"}} ],
    "tags": {"site": "s1", "line": "l\"1"}, "fw": "1.2" } )";
  ASSERT_TRUE(json(p, "dev-topic").ok());
  ASSERT_EQ(buf_.size(), 1u);
  EXPECT_EQ(buf_[0].device_id, "dev-topic");
  EXPECT_EQ(buf_[0].metric, "t\xc3\xa9mp");
  EXPECT_EQ(buf_[0].ts_ms, 1'700'000'000'000);
  EXPECT_EQ(buf_[0].value, 1000.0);
  EXPECT_EQ(buf_[0].tags, (std::vector<wire::Tag>{{"line", "l\"1"}, {"site", "s2"}}));
  // A single reading object, and an array of readings.
  buf_.clear();
  ASSERT_TRUE(json(R"({"device":"d","metric":"m","ts_ms":1700000000000,"label":"x"})").ok());
  ASSERT_EQ(buf_.size(), 1u);
  EXPECT_EQ(buf_[0].label, "x");
  ASSERT_TRUE(json(R"([{"device_id":"d","metric":"m","ts_ms":1700000000001,"value":-2},
                       {"device_id":"e","metric":"m","ts_ms":1700000000002,"value":3}])")
                  .ok());
  EXPECT_EQ(buf_.size(), 3u);
  EXPECT_EQ(buf_[2].device_id, "e");
  // An empty batch is fine.
  ASSERT_TRUE(json(R"({"device_id":"d","readings":[]})").ok());
  EXPECT_EQ(buf_.size(), 3u);
}

TEST_F(PayloadParserTest, JsonErrorsCarryReasonsAndLeaveBufferUnchanged) {
  ASSERT_TRUE(
      json(R"({"device_id":"d","readings":[{"metric":"m","ts_ms":1700000000000,"value":1}]})")
          .ok());
  ASSERT_EQ(buf_.size(), 1u);
  const std::string ok_reading = R"({"metric":"m","ts_ms":1700000000000,"value":1})";
  expect_reason(json(R"({"device_id":"d","readings":[)" + ok_reading + ","), "malformed_json");
  expect_reason(json(R"({"device_id":"d","readings":[)" + ok_reading + "]} x"), "malformed_json");
  expect_reason(json("not json"), "malformed_json");
  expect_reason(json(""), "malformed_json");
  expect_reason(json(R"({"device_id":"d","readings":[{"metric":"m","value":1}]})"),
                "missing_field");
  expect_reason(json(R"({"device_id":"d","readings":[{"metric":"m","ts_ms":1700000000000}]})"),
                "missing_field");
  expect_reason(
      json(
          R"({"device_id":"d","readings":[{"metric":"m","ts_ms":1700000000000,"value":1,"label":"x"}]})"),
      "missing_field");
  expect_reason(json(R"({"readings":[)" + ok_reading + "]}"), "missing_field");  // no device
  expect_reason(json(R"({"device_id":"d","readings":[{"metric":"m","ts_ms":12,"value":1}]})"),
                "bad_timestamp");
  expect_reason(json(R"({"device_id":"d","readings":[{"metric":"m","ts_ms":1.5,"value":1}]})"),
                "bad_timestamp");
  expect_reason(json(R"({"device_id":"d\u0000","readings":[)" + ok_reading + "]}"), "bad_string");
  expect_reason(json("{\"device_id\":\"d\xff\",\"readings\":[" + ok_reading + "]}"), "bad_string");
  expect_reason(json(R"({"device_id":"d","tags":{"a":1},"readings":[]})"), "malformed_json");
  expect_reason(
      json(R"({"device_id":")" + std::string(200, 'x') + R"(","readings":[)" + ok_reading + "]}"),
      "name_too_long");
  std::string deep(100, '[');
  expect_reason(json(R"({"device_id":"d","x":)" + deep + "}"), "malformed_json");
  std::string many = R"({"device_id":"d","readings":[)";
  for (int i = 0; i < 4097; ++i) many += (i ? "," : "") + ok_reading;
  expect_reason(json(many + "]}"), "too_many_readings");
  EXPECT_EQ(buf_.size(), 1u);
}

TEST_F(PayloadParserTest, LineAsTheSimSendsIt) {
  const std::string p =
      "vibration,device=dev-0001,line=line-0,site=site-01 value=0.81 1700000000005\n"
      "event,device=dev-0001,line=line-0,site=site-01 label=\"E017\" 1700000000009\n";
  ASSERT_TRUE(line(p).ok());
  ASSERT_EQ(buf_.size(), 2u);
  EXPECT_EQ(buf_[0].device_id, "dev-0001");
  EXPECT_EQ(buf_[0].metric, "vibration");
  EXPECT_EQ(buf_[0].value, 0.81);
  EXPECT_EQ(buf_[0].ts_ms, 1'700'000'000'005);
  EXPECT_EQ(buf_[0].tags, (std::vector<wire::Tag>{{"line", "line-0"}, {"site", "site-01"}}));
  EXPECT_TRUE(buf_[1].is_label);
  EXPECT_EQ(buf_[1].label, "E017");
}

TEST_F(PayloadParserTest, LineVariants) {
  const std::string p =
      "# comment\r\n"
      "\n"
      "my\\ metric,site=a\\,b,device=d\\=1 value=42i 1700000000000000000\r\n"
      "m,device=d value=-1.5e2 1700000000000000\n"
      "m,device=d value=7u 1700000000\n"
      "m value=\"code 7\" 1700000000123\n"
      "m,device=d label=\"say \\\"hi\\\"\"\n";
  ASSERT_TRUE(line(p, "topic-dev").ok());
  ASSERT_EQ(buf_.size(), 5u);
  EXPECT_EQ(buf_[0].metric, "my metric");
  EXPECT_EQ(buf_[0].device_id, "d=1");
  EXPECT_EQ(buf_[0].tags, (std::vector<wire::Tag>{{"site", "a,b"}}));
  EXPECT_EQ(buf_[0].value, 42.0);
  EXPECT_EQ(buf_[0].ts_ms, 1'700'000'000'000);  // ns
  EXPECT_EQ(buf_[1].value, -150.0);
  EXPECT_EQ(buf_[1].ts_ms, 1'700'000'000'000);  // us
  EXPECT_EQ(buf_[2].value, 7.0);
  EXPECT_EQ(buf_[2].ts_ms, 1'700'000'000'000);  // s
  EXPECT_TRUE(buf_[3].is_label);
  EXPECT_EQ(buf_[3].label, "code 7");
  EXPECT_EQ(buf_[3].device_id, "topic-dev");
  EXPECT_EQ(buf_[4].label, "say \"hi\"");
  EXPECT_EQ(buf_[4].ts_ms, kNow);  // no timestamp: the agent's clock
}

// A payload of one bad line is refused with that line's reason (line_payload_test.cc has
// payloads where the other lines are taken).
TEST_F(PayloadParserTest, LineErrors) {
  expect_reason(line("m,device=d 1700000000000\n"), "malformed_line");
  expect_reason(line("m,device=d value=abc 1700000000000\n"), "malformed_line");
  expect_reason(line("m,device=d value=1 17000x\n"), "bad_timestamp");
  expect_reason(line("m,device value=1 1700000000000\n"), "malformed_line");
  expect_reason(line("m,device=d label=\"x 1700000000000\n"), "malformed_line");
  expect_reason(line("m,device=d label=1 1700000000000\n"), "malformed_line");
  expect_reason(line("m value=1 1700000000000\n"), "missing_field");  // no device anywhere
  expect_reason(line("m,device=d,a=1,a=2 value=1 1700000000000\n"), "duplicate_tag");
  expect_reason(line("m,device=d value=1 5\n"), "bad_timestamp");  // 5 s after 1970
  EXPECT_TRUE(buf_.empty());
  ASSERT_TRUE(line("").ok());
  EXPECT_TRUE(buf_.empty());
}

TEST_F(PayloadParserTest, NanopbGoesThroughTheWireCodec) {
  wire::ReadingBatch b;
  b.device_id = "dev-9";
  b.tags = {{"site", "s"}};
  wire::Reading r;
  r.metric = "temperature";
  r.ts_ms = 1'700'000'000'000;
  r.value = 21.5;
  r.tags = b.tags;
  b.readings = {r};
  auto encoded = wire::encode_reading_batch(b);
  ASSERT_TRUE(encoded.ok()) << encoded.status().to_string();
  ASSERT_TRUE(parser_.parse(PayloadFormat::kNanopb, *encoded, kNow, buf_).ok());
  ASSERT_EQ(buf_.size(), 1u);
  EXPECT_EQ(buf_[0].device_id, "dev-9");
  EXPECT_EQ(buf_[0].value, 21.5);
  Bytes garbage = {0xff, 0xff, 0xff};
  Status s = parser_.parse(PayloadFormat::kNanopb, garbage, kNow, buf_);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(parse_error_reason(s), "unknown");
  EXPECT_EQ(buf_.size(), 1u);
}

TEST(PayloadFormatTest, NamesAndTopics) {
  for (auto f : wire::kPayloadFormats) {
    EXPECT_EQ(parse_payload_format(payload_format_name(f)), f);
  }
  EXPECT_EQ(payload_format_name(PayloadFormat::kJsonFields), "json_fields");
  EXPECT_EQ(payload_format_name(PayloadFormat::kValue), "value");
  EXPECT_FALSE(parse_payload_format("xml").has_value());
  EXPECT_FALSE(parse_payload_format("json-fields").has_value());  // the simulator's spelling
  for (auto f :
       {TimeFormat::kRfc3339, TimeFormat::kUnixS, TimeFormat::kUnixMs, TimeFormat::kUnixNs}) {
    EXPECT_EQ(parse_time_format(time_format_name(f)), f);
  }
  EXPECT_EQ(device_from_topic("devices/dev-1/readings"), "dev-1");
  EXPECT_EQ(device_from_topic("site/devices/dev-2/json"), "dev-2");
  EXPECT_EQ(device_from_topic("udp://127.0.0.1:5000"), "");
  EXPECT_EQ(device_from_topic("devices"), "");
  EXPECT_EQ(line_timestamp_to_ms(1'700'000'000'123'456'789), 1'700'000'000'123);
  EXPECT_EQ(line_timestamp_to_ms(1'700'000'000'123), 1'700'000'000'123);
}

// A topic template serves edgesketch's own formats too: the device for readings without one,
// tags the readings lack.
TEST(PayloadFormatTest, TopicTemplatesServeJsonAndNanopb) {
  ParserOptions o;
  o.topic_template = *TopicTemplate::parse("plant/{site}/{device}/+");
  PayloadParser parser(o);
  ReadingBuffer buf;
  ASSERT_TRUE(parser
                  .parse(PayloadFormat::kJson,
                         bytes(R"({"tags":{"line":"l1"},"readings":[)"
                               R"({"metric":"m","ts_ms":1700000000000,"value":1},)"
                               R"({"metric":"m","ts_ms":1700000000000,"value":2,)"
                               R"("tags":{"site":"own"}}]})"),
                         kNow, buf, "plant/s1/dev-9/json")
                  .ok());
  ASSERT_EQ(buf.size(), 2u);
  EXPECT_EQ(buf[0].device_id, "dev-9");
  EXPECT_EQ(buf[0].tags, (std::vector<wire::Tag>{{"line", "l1"}, {"site", "s1"}}));
  EXPECT_EQ(buf[1].tags, (std::vector<wire::Tag>{{"line", "l1"}, {"site", "own"}}));
  wire::ReadingBatch b;
  b.device_id = "dev-own";
  wire::Reading r;
  r.metric = "temperature";
  r.ts_ms = 1'700'000'000'000;
  r.value = 21.5;
  b.readings = {r};
  auto encoded = wire::encode_reading_batch(b);
  ASSERT_TRUE(encoded.ok());
  buf.clear();
  ASSERT_TRUE(parser.parse(PayloadFormat::kNanopb, *encoded, kNow, buf, "plant/s2/x/pb").ok());
  ASSERT_EQ(buf.size(), 1u);
  EXPECT_EQ(buf[0].device_id, "dev-own");  // the payload's own device wins
  EXPECT_EQ(buf[0].tags, (std::vector<wire::Tag>{{"site", "s2"}}));
  EXPECT_EQ(parse_error_reason(
                parser.parse(PayloadFormat::kNanopb, *encoded, kNow, buf, "devices/x/readings")),
            "topic_mismatch");
}

TEST(PayloadFormatTest, EveryFormatRefusesAPayloadPastTheLimit) {
  ParserOptions o;
  o.limits.max_payload_bytes = 64;
  o.topic_template = *TopicTemplate::parse("devices/{device}/{metric}");
  PayloadParser parser(o);
  const std::string big(65, '1');
  for (PayloadFormat f : wire::kPayloadFormats) {
    ReadingBuffer buf;
    Status s = parser.parse(f, bytes(big), kNow, buf, "devices/d/m");
    EXPECT_EQ(parse_error_reason(s), "payload_too_large") << payload_format_name(f);
    EXPECT_TRUE(buf.empty());
  }
}

TEST(ReadingBufferTest, ReusesSlots) {
  ReadingBuffer b;
  b.append().metric = "a";
  b.append().metric = "b";
  EXPECT_EQ(b.size(), 2u);
  b.clear();
  wire::Reading& r = b.append();
  EXPECT_TRUE(r.metric.empty());
  EXPECT_EQ(b.view().size(), 1u);
}

}  // namespace
}  // namespace edgesketch::agent
