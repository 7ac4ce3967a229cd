// The simulation loop in-process: what is sent decodes (with independent decoders) to exactly
// what is recorded, in every format and under every fault, and the standard fleet has the
// shape DESIGN.md promises.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "decoded_message.h"
#include "record_format.h"
#include "record_reader.h"
#include "sim_fixtures.h"

namespace edgesketch::sim {
namespace {

using test::CapturingTransport;
using test::DecodedMessage;
using test::temp_path;

RunOptions fast_run(PayloadFormat format = PayloadFormat::kNanopb) {
  RunOptions r;
  r.speed = 0;
  r.format = format;
  return r;
}

// Decodes every captured payload; undecodable ones are counted, not returned.
std::vector<DecodedMessage> decode_all(const CapturingTransport& t, PayloadFormat format,
                                       std::size_t* undecodable) {
  std::vector<DecodedMessage> out;
  *undecodable = 0;
  for (const auto& s : t.sent) {
    auto d = test::decode_payload(format, s.payload);
    if (!d.ok()) {
      ++*undecodable;
      continue;
    }
    EXPECT_EQ(s.topic, d->device_id + "/readings");
    if (format == PayloadFormat::kLine) d->batch_seq.reset();
    out.push_back(std::move(d).value());
  }
  return out;
}

void expect_sent_equals_record(PayloadFormat format, const FaultOptions& faults) {
  const std::string path =
      temp_path(std::string("sent-") + std::string(payload_format_name(format)) + ".rec");
  CapturingTransport t;
  auto stats = test::simulate(test::small_fleet(), faults, fast_run(format), t, path);
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  std::size_t undecodable = 0;
  std::vector<DecodedMessage> sent = decode_all(t, format, &undecodable);
  auto recorded = test::read_record_messages(path, format != PayloadFormat::kLine);
  ASSERT_TRUE(recorded.ok()) << recorded.status().to_string();
  EXPECT_EQ(undecodable, stats->malformed_messages);
  EXPECT_EQ(t.sent.size(), stats->messages_sent);
  ASSERT_EQ(sent.size(), recorded->size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    ASSERT_EQ(sent[i], (*recorded)[i]) << "message " << i << ": sent " << test::describe(sent[i])
                                       << ", recorded " << test::describe((*recorded)[i]);
  }
  std::uint64_t readings = 0;
  for (const auto& m : sent) readings += m.readings.size();
  EXPECT_EQ(readings, stats->readings_sent);
}

class FormatTest : public ::testing::TestWithParam<PayloadFormat> {};

TEST_P(FormatTest, SentPayloadsDecodeToTheRecord) { expect_sent_equals_record(GetParam(), {}); }

TEST_P(FormatTest, SentPayloadsDecodeToTheRecordUnderFaults) {
  FaultOptions f;
  f.skew_ratio = 0.5;
  f.skew_ms = 5000;
  f.duplicate_ratio = 0.1;
  f.late_ratio = 0.05;
  f.late_ms = 4000;
  f.offline_ratio = 0.02;
  f.offline_ms = 3000;
  f.malformed_ratio = 0.1;
  expect_sent_equals_record(GetParam(), f);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, FormatTest,
                         ::testing::Values(PayloadFormat::kNanopb, PayloadFormat::kJson,
                                           PayloadFormat::kLine),
                         [](const auto& info) {
                           return std::string(payload_format_name(info.param));
                         });

// The row and value formats: every reading sent, decoded with its device, in send order,
// equals the record's, reading by reading (value sends no time: its readings compare without).
void expect_sent_readings_equal_record(SimFormat format, const FaultOptions& faults,
                                       const FleetOptions& fleet = test::small_fleet()) {
  const std::string name(sim_format_name(format));
  SCOPED_TRACE(name);
  const std::string path = temp_path("sent-" + name + ".rec");
  CapturingTransport t;
  RunOptions run = fast_run();
  run.format = format;
  auto stats = test::simulate(fleet, faults, run, t, path);
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  EXPECT_EQ(t.sent.size(), stats->messages_sent);
  std::vector<std::pair<std::string, test::DecodedReading>> sent;
  std::size_t undecodable = 0, bad_lines = 0;
  for (const auto& m : t.sent) {
    auto d = test::decode_sim_message(format, m.topic, m.payload);
    if (!d.ok()) {
      ++undecodable;
      continue;
    }
    bad_lines += d->bad_lines;
    sent.insert(sent.end(), d->readings.begin(), d->readings.end());
  }
  EXPECT_EQ(undecodable + bad_lines > 0, stats->malformed_messages > 0);
  if (format.line_fields) {
    EXPECT_EQ(bad_lines, stats->malformed_messages);
  }
  auto recorded = test::read_record_messages(path);
  ASSERT_TRUE(recorded.ok()) << recorded.status().to_string();
  std::vector<std::pair<std::string, test::DecodedReading>> want;
  for (const auto& m : *recorded) {
    for (test::DecodedReading r : m.readings) {
      if (format.payload == PayloadFormat::kValue) r.ts_ms = 0;
      want.emplace_back(m.device_id, std::move(r));
    }
  }
  EXPECT_EQ(sent.size(), stats->readings_sent);
  ASSERT_EQ(sent.size(), want.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    ASSERT_EQ(sent[i], want[i]) << "reading " << i << ": sent " << sent[i].first << " "
                                << sent[i].second.metric << "@" << sent[i].second.ts_ms
                                << ", recorded " << want[i].first << " " << want[i].second.metric
                                << "@" << want[i].second.ts_ms;
  }
}

class RowFormatTest : public ::testing::TestWithParam<SimFormat> {};

TEST_P(RowFormatTest, SentReadingsDecodeToTheRecord) {
  expect_sent_readings_equal_record(GetParam(), {});
}

TEST_P(RowFormatTest, SentReadingsDecodeToTheRecordUnderFaults) {
  FaultOptions f;
  f.skew_ratio = 0.5;
  f.skew_ms = 5000;
  f.duplicate_ratio = 0.1;
  f.late_ratio = 0.05;
  f.late_ms = 4000;
  f.offline_ratio = 0.02;
  f.offline_ms = 3000;
  f.malformed_ratio = 0.1;
  expect_sent_readings_equal_record(GetParam(), f);
}

INSTANTIATE_TEST_SUITE_P(RowFormats, RowFormatTest,
                         ::testing::Values(SimFormat{PayloadFormat::kLine, true},
                                           SimFormat{PayloadFormat::kJsonFields},
                                           SimFormat{PayloadFormat::kValue}),
                         [](const auto& info) {
                           std::string n(sim_format_name(info.param));
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST(SimFormatTest, NamesRoundTrip) {
  for (std::string_view n : {"nanopb", "json", "line", "line-fields", "json-fields", "value"}) {
    auto f = parse_sim_format(n);
    ASSERT_TRUE(f.has_value()) << n;
    EXPECT_EQ(sim_format_name(*f), n);
  }
  EXPECT_EQ(parse_sim_format("line-fields")->payload, PayloadFormat::kLine);
  EXPECT_EQ(parse_sim_format("json-fields")->payload, PayloadFormat::kJsonFields);
  EXPECT_FALSE(parse_sim_format("json_fields").has_value());  // the agent's spelling
}

// Four metrics at 1 Hz with one-second batches: every row carries all four, so every
// line-fields line has four fields and one time, and a message packs --message-lines lines.
TEST(SimFormatTest, LineFieldsPacksFourFieldLines) {
  FleetOptions fleet = test::small_fleet();
  fleet.rate_hz = {1.0, 1.0, 1.0, 1.0, 0.0};
  fleet.devices = 200;
  fleet.duration_ms = 10'000;
  CapturingTransport t;
  RunOptions run = fast_run();
  run.format = SimFormat{PayloadFormat::kLine, true};
  run.message_lines = 100;
  auto stats = test::simulate(fleet, {}, run, t, "");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->readings_sent, 200u * 10u * 4u);
  std::size_t full = 0;
  for (const auto& m : t.sent) {
    EXPECT_EQ(m.topic, kLineFieldsTopic);
    const auto lines =
        static_cast<std::size_t>(std::count(m.payload.begin(), m.payload.end(), '\n'));
    EXPECT_LE(lines, 100u);
    full += lines == 100;
    auto d = test::decode_sim_message(run.format, m.topic, m.payload);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->readings.size(), 4 * lines);
    for (std::size_t i = 0; i < d->readings.size(); i += 4) {
      EXPECT_EQ(d->readings[i].second.metric, "iot_temperature");
      EXPECT_EQ(d->readings[i + 3].second.metric, "iot_vibration");
      EXPECT_EQ(d->readings[i].second.ts_ms, d->readings[i + 3].second.ts_ms);
    }
  }
  EXPECT_GE(full, 10u);
}

TEST(SimRunnerTest, StandardFleetHasTheDesignShape) {
  FleetOptions fleet = standard_fleet();
  fleet.start_ms = 1'700'000'000'000;
  fleet.duration_ms = 10'000;
  const std::string path = temp_path("standard.rec");
  NullTransport t;
  auto stats = test::simulate(fleet, {}, fast_run(), t, path);
  ASSERT_TRUE(stats.ok());
  // 103.1 readings/s per device, exactly, over whole seconds (every phase is within a period).
  EXPECT_EQ(stats->readings_sent, 1000u * 1031u);
  auto r = RecordReader::open(path);
  ASSERT_TRUE(r.ok());
  RecordMessage m;
  std::map<std::string, std::uint64_t> per_metric;
  std::set<std::string> labels;
  while (*(*r)->next(m)) {
    for (const auto& rd : m.readings) {
      per_metric[(*r)->metrics()[rd.metric_id].name]++;
      if ((*r)->metrics()[rd.metric_id].categorical) labels.insert((*r)->labels()[rd.label_id]);
      EXPECT_GE(rd.ts_ms, fleet.start_ms);
      EXPECT_LT(rd.ts_ms, fleet.start_ms + fleet.duration_ms);
    }
  }
  EXPECT_EQ(per_metric["temperature"], 10'000u);
  EXPECT_EQ(per_metric["humidity"], 10'000u);
  EXPECT_EQ(per_metric["pressure"], 10'000u);
  EXPECT_EQ(per_metric["vibration"], 1'000'000u);
  EXPECT_EQ(per_metric["event"], 1'000u);
  EXPECT_TRUE(labels.count("E000"));
  const auto& devices = (*r)->devices();
  ASSERT_EQ(devices.size(), 1000u);
  EXPECT_EQ(devices[0].name, "dev-0000");
  EXPECT_EQ(devices[999].name, "dev-0999");
  // site = index % 10, line = (index / 10) % 5.
  EXPECT_EQ(devices[123].tags, (RecordTags{{"site", "site-03"}, {"line", "line-2"}}));
}

TEST(SimRunnerTest, DuplicatesFollowTheirOriginalAndAreFlagged) {
  FaultOptions f;
  f.duplicate_ratio = 0.2;
  const std::string path = temp_path("dups.rec");
  NullTransport t;
  auto stats = test::simulate(test::small_fleet(), f, fast_run(), t, path);
  ASSERT_TRUE(stats.ok());
  auto msgs = test::read_record_messages(path);
  ASSERT_TRUE(msgs.ok());
  std::size_t dups = 0;
  for (std::size_t i = 0; i < msgs->size(); ++i) {
    if ((*msgs)[i].record_flags & record::kFlagDuplicate) {
      ++dups;
      ASSERT_GT(i, 0u);
      EXPECT_EQ((*msgs)[i], (*msgs)[i - 1]);
    }
  }
  EXPECT_EQ(dups, stats->duplicate_messages);
  EXPECT_GT(dups, 20u);
}

TEST(SimRunnerTest, OfflineDevicesLoseReadingsAndLateBurstsArriveLate) {
  FaultOptions f;
  f.offline_ratio = 0.05;
  f.offline_ms = 2000;
  f.late_ratio = 0.05;
  f.late_ms = 3000;
  const std::string path = temp_path("offline.rec");
  NullTransport t;
  auto stats = test::simulate(test::small_fleet(), f, fast_run(), t, path);
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(stats->offline_readings, 0u);
  EXPECT_GT(stats->late_messages, 0u);
  EXPECT_EQ(stats->readings_generated, stats->readings_sent + stats->offline_readings);
  auto r = RecordReader::open(path);
  ASSERT_TRUE(r.ok());
  RecordMessage m;
  std::map<std::uint32_t, std::uint64_t> last_seq;
  while (*(*r)->next(m)) {
    // Per device, batches still go out in order, with gaps where the device was offline.
    EXPECT_GT(m.header.batch_seq, last_seq[m.header.device_id]);
    last_seq[m.header.device_id] = m.header.batch_seq;
    if (m.header.flags & record::kFlagLate) {
      // A late message was sent at least late_ms after its first reading was taken... unless the
      // run ended first; either way never before its readings.
      for (const auto& rd : m.readings) EXPECT_LE(rd.ts_ms, m.header.sent_ms);
    }
  }
}

TEST(SimRunnerTest, SkewShiftsTimestampsButNotValues) {
  FaultOptions f;
  f.skew_ratio = 1.0;
  f.skew_ms = 10'000;
  const std::string plain = temp_path("noskew.rec");
  const std::string skewed = temp_path("skew.rec");
  NullTransport t1, t2;
  ASSERT_TRUE(test::simulate(test::small_fleet(), {}, fast_run(), t1, plain).ok());
  ASSERT_TRUE(test::simulate(test::small_fleet(), f, fast_run(), t2, skewed).ok());
  auto a = test::read_record_messages(plain);
  auto b = test::read_record_messages(skewed);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  std::map<std::string, std::set<std::int64_t>> offsets;
  for (std::size_t i = 0; i < a->size(); ++i) {
    ASSERT_EQ((*a)[i].readings.size(), (*b)[i].readings.size());
    for (std::size_t k = 0; k < (*a)[i].readings.size(); ++k) {
      EXPECT_EQ((*a)[i].readings[k].value, (*b)[i].readings[k].value);
      offsets[(*a)[i].device_id].insert((*b)[i].readings[k].ts_ms - (*a)[i].readings[k].ts_ms);
    }
  }
  std::set<std::int64_t> distinct_offsets;
  for (const auto& [device, o] : offsets) {
    EXPECT_EQ(o.size(), 1u) << device << " has a varying skew";
    EXPECT_LE(std::abs(*o.begin()), 10'000);
    distinct_offsets.insert(*o.begin());
  }
  EXPECT_GT(distinct_offsets.size(), 6u);
}

TEST(SimRunnerTest, MalformedRowAndValuePayloadsAreRejected) {
  FaultOptions f;
  f.malformed_ratio = 1.0;
  for (SimFormat format :
       {SimFormat{PayloadFormat::kLine, true}, SimFormat{PayloadFormat::kJsonFields},
        SimFormat{PayloadFormat::kValue}}) {
    CapturingTransport t;
    RunOptions run = fast_run();
    run.format = format;
    auto stats = test::simulate(test::small_fleet(), f, run, t, temp_path("malformed-rows.rec"));
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->readings_sent, 0u);
    EXPECT_GT(stats->malformed_messages, 50u);
    for (const auto& s : t.sent) {
      auto d = test::decode_sim_message(format, s.topic, s.payload);
      EXPECT_TRUE(!d.ok() || d->readings.empty())
          << sim_format_name(format) << " decoded a malformed payload: " << s.payload;
    }
  }
}

TEST(SimRunnerTest, MalformedPayloadsAreRejectedByEveryDecoder) {
  FaultOptions f;
  f.malformed_ratio = 1.0;
  for (PayloadFormat format :
       {PayloadFormat::kNanopb, PayloadFormat::kJson, PayloadFormat::kLine}) {
    const std::string path = temp_path("malformed.rec");
    CapturingTransport t;
    auto stats = test::simulate(test::small_fleet(), f, fast_run(format), t, path);
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->readings_sent, 0u);
    EXPECT_GT(t.sent.size(), 50u);
    for (const auto& s : t.sent) {
      EXPECT_FALSE(test::decode_payload(format, s.payload).ok())
          << payload_format_name(format) << " accepted a malformed payload of " << s.payload.size()
          << " bytes";
    }
  }
}

}  // namespace
}  // namespace edgesketch::sim
