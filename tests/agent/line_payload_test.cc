// Line protocol with every field a reading, on what Telegraf and InfluxDB clients send: field
// types, escapes, timestamp precisions, device tags, several lines per payload, and bad lines
// that are skipped with their reason while the others are taken.
#include <gtest/gtest.h>

#include <string>

#include "input/payload_parser.h"

namespace edgesketch::agent {
namespace {

constexpr std::int64_t kNow = 1'704'067'260'000;

ByteSpan bytes(const std::string& s) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

std::vector<wire::Tag> tags(std::initializer_list<std::pair<const char*, const char*>> kv) {
  std::vector<wire::Tag> t;
  for (const auto& [k, v] : kv) t.push_back(wire::Tag{k, v});
  return t;
}

class LinePayloadTest : public ::testing::Test {
 protected:
  Status parse(const std::string& payload, std::string_view topic = "telegraf/gw/iot") {
    buf_.clear();
    return parser_.parse(PayloadFormat::kLine, bytes(payload), kNow, buf_, topic);
  }
  // The (reason, items) counts of the last parse's skipped lines.
  std::vector<std::pair<std::string, std::uint64_t>> skipped() const {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (const auto& c : parser_.skipped().by_reason()) out.emplace_back(c.reason, c.items);
    return out;
  }
  void set_options(ParserOptions o) { parser_ = PayloadParser(std::move(o)); }

  PayloadParser parser_;
  ReadingBuffer buf_;
};

// The example: one Telegraf line, four fields, second precision.
TEST_F(LinePayloadTest, EveryFieldIsAReadingOfMeasurementUnderscoreField) {
  ASSERT_TRUE(parse("iot,device=d0042 temperature=22.13,humidity=45.2,pressure=1013.25,"
                    "vibration=0.412 1704067200\n")
                  .ok());
  ASSERT_EQ(buf_.size(), 4u);
  const char* metrics[] = {"iot_temperature", "iot_humidity", "iot_pressure", "iot_vibration"};
  const double values[] = {22.13, 45.2, 1013.25, 0.412};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(buf_[i].metric, metrics[i]);
    EXPECT_EQ(buf_[i].value, values[i]);
    EXPECT_EQ(buf_[i].device_id, "d0042");
    EXPECT_TRUE(buf_[i].tags.empty());
    EXPECT_EQ(buf_[i].ts_ms, 1'704'067'200'000);
    EXPECT_FALSE(buf_[i].is_label);
  }
  EXPECT_TRUE(parser_.skipped().empty());
}

TEST_F(LinePayloadTest, FieldTypesOfInfluxDb) {
  ASSERT_TRUE(parse("sys,device=gw uptime=86400i,free=18446744073709551615u,load=-0.5,"
                    "ok=true,up=T,down=f,broken=FALSE,state=\"running\",value=3,label=\"E017\" "
                    "1704067200000000000\n")
                  .ok());
  ASSERT_EQ(buf_.size(), 10u);
  EXPECT_EQ(buf_[0].metric, "sys_uptime");
  EXPECT_EQ(buf_[0].value, 86400.0);
  EXPECT_EQ(buf_[1].value, 18446744073709551615.0);
  EXPECT_EQ(buf_[2].value, -0.5);
  EXPECT_EQ(buf_[3].value, 1.0);
  EXPECT_EQ(buf_[4].value, 1.0);
  EXPECT_EQ(buf_[5].value, 0.0);
  EXPECT_EQ(buf_[6].value, 0.0);
  EXPECT_EQ(buf_[7].metric, "sys_state");
  EXPECT_TRUE(buf_[7].is_label);
  EXPECT_EQ(buf_[7].label, "running");
  // value and label keep their meaning: the measurement's own reading and label.
  EXPECT_EQ(buf_[8].metric, "sys");
  EXPECT_EQ(buf_[8].value, 3.0);
  EXPECT_EQ(buf_[9].metric, "sys");
  EXPECT_TRUE(buf_[9].is_label);
  EXPECT_EQ(buf_[9].label, "E017");
  for (std::size_t i = 0; i < buf_.size(); ++i) EXPECT_EQ(buf_[i].ts_ms, 1'704'067'200'000);
}

TEST_F(LinePayloadTest, EscapesInEveryPosition) {
  ASSERT_TRUE(parse("weather\\ station,device=d\\,1,loc\\=x=roof\\ top,z=a\\\\b "
                    "wind\\ speed=3.5,note=\"say \\\"hi\\\" \\\\ o,k\" 1704067200123\n")
                  .ok());
  ASSERT_EQ(buf_.size(), 2u);
  EXPECT_EQ(buf_[0].metric, "weather station_wind speed");
  EXPECT_EQ(buf_[0].device_id, "d,1");
  EXPECT_EQ(buf_[0].tags, tags({{"loc=x", "roof top"}, {"z", "a\\b"}}));
  EXPECT_EQ(buf_[0].ts_ms, 1'704'067'200'123);  // milliseconds
  EXPECT_EQ(buf_[1].label, "say \"hi\" \\ o,k");
}

TEST_F(LinePayloadTest, TimestampPrecisionsAndNone) {
  ASSERT_TRUE(parse("m,device=d a=1 1704067200\n"
                    "m,device=d a=2 1704067200123\n"
                    "m,device=d a=3 1704067200123456\n"
                    "m,device=d a=4 1704067200123456789\n"
                    "m,device=d a=5\n")
                  .ok());
  ASSERT_EQ(buf_.size(), 5u);
  EXPECT_EQ(buf_[0].ts_ms, 1'704'067'200'000);
  EXPECT_EQ(buf_[1].ts_ms, 1'704'067'200'123);
  EXPECT_EQ(buf_[2].ts_ms, 1'704'067'200'123);
  EXPECT_EQ(buf_[3].ts_ms, 1'704'067'200'123);
  EXPECT_EQ(buf_[4].ts_ms, kNow);
}

// Telegraf's MQTT output with batch = true: many lines, tags sorted by Telegraf, host as the
// device (device_tag = "host"); the tag is the device id, not a tag.
TEST_F(LinePayloadTest, TelegrafBatchWithHostAsTheDevice) {
  ParserOptions o;
  o.device_tag = "host";
  set_options(o);
  std::string payload;
  for (int i = 0; i < 50; ++i) {
    payload += "cpu,cpu=cpu-total,host=gw-" + std::to_string(i % 5) +
               " usage_idle=97.5,usage_user=1.25 " + std::to_string(1704067200 + i) + "000000000\n";
  }
  ASSERT_TRUE(parse(payload).ok());
  ASSERT_EQ(buf_.size(), 100u);
  EXPECT_EQ(buf_[0].metric, "cpu_usage_idle");
  EXPECT_EQ(buf_[1].metric, "cpu_usage_user");
  EXPECT_EQ(buf_[99].device_id, "gw-4");
  EXPECT_EQ(buf_[99].tags, tags({{"cpu", "cpu-total"}}));
  EXPECT_EQ(buf_[99].ts_ms, 1'704'067'249'000);
  // With device_tag = "host" a "device" tag is an ordinary tag.
  ASSERT_TRUE(parse("m,host=h,device=x a=1\n").ok());
  EXPECT_EQ(buf_[0].device_id, "h");
  EXPECT_EQ(buf_[0].tags, tags({{"device", "x"}}));
}

TEST_F(LinePayloadTest, DeviceFromTheTopicAndTagsFromTheTemplate) {
  // Without a device tag the topic's devices/<id> names it.
  ASSERT_TRUE(parse("m a=1\n", "devices/dev-7/readings").ok());
  EXPECT_EQ(buf_[0].device_id, "dev-7");
  ParserOptions o;
  o.topic_template = *TopicTemplate::parse("plant/{site}/{device}/telegraf");
  set_options(o);
  ASSERT_TRUE(parse("m,line=l1 a=1\nm,site=own,device=d2 a=2\n", "plant/s1/d1/telegraf").ok());
  ASSERT_EQ(buf_.size(), 2u);
  EXPECT_EQ(buf_[0].device_id, "d1");
  EXPECT_EQ(buf_[0].tags, tags({{"line", "l1"}, {"site", "s1"}}));
  // The line's own device and tags win over the topic's.
  EXPECT_EQ(buf_[1].device_id, "d2");
  EXPECT_EQ(buf_[1].tags, tags({{"site", "own"}}));
  Status s = parse("m a=1\n", "elsewhere/s1/d1/telegraf");
  EXPECT_EQ(parse_error_reason(s), "topic_mismatch") << s.to_string();
  EXPECT_TRUE(buf_.empty());
}

// Each bad line is skipped with its reason; the good lines around it are all taken.
TEST_F(LinePayloadTest, ABadLineCostsOnlyItself) {
  const std::string good = "m,device=d a=1,b=2 1704067200000\n";
  const std::string bad_lines[][2] = {
      {"m,device=d 1704067200000\n", "malformed_line"},
      {"m,device=d a=abc 1704067200000\n", "malformed_line"},
      {"m,device=d a= 1704067200000\n", "malformed_line"},
      {"m,device=d a=\"open 1704067200000\n", "malformed_line"},
      {"m,device=d label=7 1704067200000\n", "malformed_line"},
      {",device=d a=1\n", "malformed_line"},
      {"m,device=d a=1 17040x\n", "bad_timestamp"},
      {"m,device=d a=1 5\n", "bad_timestamp"},
      {"m a=1 1704067200000\n", "missing_field"},
      {"m,device=d,t=1,t=2 a=1\n", "duplicate_tag"},
      {"m,device=d,device=e a=1\n", "duplicate_tag"},
      {"m,device=d\xff a=1\n", "bad_string"},
      {std::string("m,device=d s=\"a\0b\"\n", 19), "bad_string"},
      {"m,device=d " + std::string(200, 'f') + "=1\n", "name_too_long"},
      {"m,device=d,k=" + std::string(200, 'v') + " a=1\n", "name_too_long"},
      {"m,device=d s=\"" + std::string(300, 'x') + "\"\n", "label_too_long"},
  };
  for (const auto& [bad, reason] : bad_lines) {
    SCOPED_TRACE(bad);
    ASSERT_TRUE(parse(good + bad + good).ok());
    EXPECT_EQ(buf_.size(), 4u);
    EXPECT_EQ(buf_[3].metric, "m_b");
    ASSERT_EQ(skipped().size(), 1u);
    EXPECT_EQ(skipped()[0], (std::pair<std::string, std::uint64_t>{reason, 1}));
    EXPECT_EQ(parse_error_reason(parser_.skipped().first()), reason);
    EXPECT_NE(parser_.skipped().first().message().find("line 2"), std::string::npos)
        << parser_.skipped().first().message();
    // Alone, the same line refuses its payload with its reason, the buffer left as it was.
    ReadingBuffer keep;
    keep.append().metric = "sentinel";
    Status alone = parser_.parse(PayloadFormat::kLine, bytes(bad), kNow, keep, "telegraf/x");
    EXPECT_EQ(parse_error_reason(alone), reason) << alone.to_string();
    ASSERT_EQ(keep.size(), 1u);
  }
}

TEST_F(LinePayloadTest, TooManyTagsAndTooManyReadings) {
  std::string many_tags = "m,device=d";
  for (int i = 0; i < 17; ++i) many_tags += ",t" + std::to_string(i + 10) + "=v";
  ASSERT_TRUE(parse("m,device=d a=1\n" + many_tags + " a=1\n").ok());
  EXPECT_EQ(buf_.size(), 1u);
  EXPECT_EQ(skipped(), (std::vector<std::pair<std::string, std::uint64_t>>{{"too_many_tags", 1}}));
  // 1,365 lines of three fields fit 4,096 readings; the lines past them are skipped, counted.
  std::string lines;
  for (int i = 0; i < 1400; ++i) lines += "m,device=d a=1,b=2,c=3\n";
  ASSERT_TRUE(parse(lines).ok());
  EXPECT_EQ(buf_.size(), 1365u * 3);
  EXPECT_EQ(skipped(),
            (std::vector<std::pair<std::string, std::uint64_t>>{{"too_many_readings", 35}}));
}

TEST_F(LinePayloadTest, CommentsBlankLinesAndCrLf) {
  ASSERT_TRUE(parse("# Telegraf\r\n\r\n   \n  m,device=d a=1 1704067200\r\nm,device=d b=2").ok());
  ASSERT_EQ(buf_.size(), 2u);
  EXPECT_EQ(buf_[0].metric, "m_a");
  EXPECT_EQ(buf_[1].metric, "m_b");
  EXPECT_TRUE(parser_.skipped().empty());
}

}  // namespace
}  // namespace edgesketch::agent
