// Every limit and validation rule of the decoders, violated once, with the expected reason and a
// message naming the field.
#include <gtest/gtest.h>
#include <pb_encode.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "edgesketch.pb.h"
#include "edgesketch/wire/codec.h"
#include "wire_fixtures.h"

namespace edgesketch::wire {
namespace {

using testing::kNowMs;
using testing::kWindowStart;
using testing::ProtoWriter;
using testing::raw_batch;
using testing::raw_record;
using testing::record;
namespace field = testing::field;

template <typename T>
void expect_rejected(const Result<T>& r, ErrorReason reason, std::string_view field_path) {
  ASSERT_FALSE(r.ok()) << "expected " << reason_name(reason) << " at " << field_path;
  EXPECT_EQ(error_reason(r.status()), reason) << r.status().to_string();
  EXPECT_NE(r.status().message().find(field_path), std::string::npos)
      << r.status().to_string() << " does not name " << field_path;
}

Result<WindowBatch> decode(const WindowBatch& b, const Limits& limits = {}) {
  return decode_window_batch(encode_window_batch(b), limits, kNowMs);
}

Result<WindowBatch> decode(const ProtoWriter& w, const Limits& limits = {}) {
  return decode_window_batch(w.data(), limits, kNowMs);
}

WindowBatch one_record(WindowRecord r) {
  WindowBatch b;
  b.gateway_id = "gw";
  b.created_ms = kNowMs;
  b.records.push_back(std::move(r));
  return b;
}

WindowBatch simple_batch() { return one_record(record("m", {{"a", "1"}, {"b", "2"}}, 3)); }

TEST(WindowBatchLimits, PayloadSizeIsCheckedFirst) {
  Limits limits;
  limits.max_payload_bytes = 10;
  expect_rejected(decode(simple_batch(), limits), ErrorReason::kPayloadTooLarge, "window_batch");
}

TEST(WindowBatchLimits, TruncatedAndMalformed) {
  Bytes bytes = encode_window_batch(simple_batch());
  bytes.resize(bytes.size() - 3);
  expect_rejected(decode_window_batch(bytes, {}, kNowMs), ErrorReason::kTruncated, "window_batch");
  // A record given a varint wire type instead of a length-delimited message.
  expect_rejected(decode(raw_batch().varint(field::kBatchRecords, 3)), ErrorReason::kMalformed,
                  "window_batch.records[0]");
  // The metric of a record as a fixed64.
  ProtoWriter bad_metric = raw_record();
  bad_metric.fixed64(field::kRecMetric, 1.0);
  expect_rejected(decode(raw_batch().message(field::kBatchRecords, bad_metric)),
                  ErrorReason::kMalformed, "records[0].metric");
  // Wire type 7 does not exist.
  const Bytes invalid_wire_type = {0x0f, 0x00};
  expect_rejected(decode_window_batch(invalid_wire_type, {}, kNowMs), ErrorReason::kMalformed,
                  "window_batch");
}

TEST(WindowBatchLimits, RecordCount) {
  ProtoWriter rec = raw_record();
  ProtoWriter no_count;
  no_count.varint(field::kBatchSchemaVersion, 1).string(field::kBatchGatewayId, "gw");
  no_count.svarint(field::kBatchCreatedMs, kNowMs).message(field::kBatchRecords, rec);
  expect_rejected(decode(no_count), ErrorReason::kTruncated, "window_batch.record_count");
  expect_rejected(decode(raw_batch(2).message(field::kBatchRecords, rec)), ErrorReason::kTruncated,
                  "window_batch.record_count");
  EXPECT_TRUE(
      decode(raw_batch(2).message(field::kBatchRecords, rec).message(field::kBatchRecords, rec))
          .ok());
}

TEST(WindowBatchLimits, SchemaVersion) {
  WindowBatch b = simple_batch();
  b.schema_version = 2;
  expect_rejected(decode(b), ErrorReason::kSchemaVersion, "window_batch.schema_version");
  b.records.clear();
  expect_rejected(decode(b), ErrorReason::kSchemaVersion, "window_batch.schema_version");
  b.schema_version = 0;
  expect_rejected(decode(b), ErrorReason::kSchemaVersion, "window_batch.schema_version");
}

TEST(WindowBatchLimits, MissingFields) {
  WindowBatch b = simple_batch();
  b.gateway_id.clear();
  expect_rejected(decode(b), ErrorReason::kMissingField, "window_batch.gateway_id");

  expect_rejected(decode(one_record(record("", {}, 1))), ErrorReason::kMissingField,
                  "records[0].metric");
  expect_rejected(decode(one_record(record("m", {{"", "v"}}, 1))), ErrorReason::kMissingField,
                  "records[0].tags[0].key");

  sketch::AggregateSpec distinct;
  distinct.distinct = true;
  WindowRecord r = record("m", {}, 1, distinct);
  r.distinct_of.clear();
  expect_rejected(decode(one_record(r)), ErrorReason::kMissingField, "records[0].distinct_of");
}

TEST(WindowBatchLimits, BadStrings) {
  expect_rejected(decode(one_record(record("temp\xff", {}, 1))), ErrorReason::kBadString,
                  "records[0].metric");
  expect_rejected(decode(one_record(record("m", {{"k", std::string("a\0b", 3)}}, 1))),
                  ErrorReason::kBadString, "records[0].tags[0].value");
  expect_rejected(decode(one_record(record("\xed\xa0\x80", {}, 1))), ErrorReason::kBadString,
                  "records[0].metric");  // a UTF-16 surrogate
  expect_rejected(decode(one_record(record("\xc0\xaf", {}, 1))), ErrorReason::kBadString,
                  "records[0].metric");  // overlong
}

TEST(WindowBatchLimits, NamesTooLong) {
  const std::string long_name(Limits{}.max_name_bytes + 1, 'x');
  expect_rejected(decode(one_record(record(long_name, {}, 1))), ErrorReason::kNameTooLong,
                  "records[0].metric");
  expect_rejected(decode(one_record(record("m", {{"k", long_name}}, 1))), ErrorReason::kNameTooLong,
                  "records[0].tags[0].value");
  WindowBatch b = simple_batch();
  b.tenant = long_name;
  expect_rejected(decode(b), ErrorReason::kNameTooLong, "window_batch.tenant");
  b = simple_batch();
  b.gateway_id = long_name;
  expect_rejected(decode(b), ErrorReason::kNameTooLong, "window_batch.gateway_id");
  // Exactly at the limit is fine.
  b.gateway_id.pop_back();
  EXPECT_TRUE(decode(b).ok());
}

TEST(WindowBatchLimits, TooManyRecords) {
  Limits limits;
  limits.max_records_per_batch = 3;
  WindowBatch b = simple_batch();
  for (int i = 0; i < 2; ++i) b.records.push_back(b.records[0]);
  EXPECT_TRUE(decode(b, limits).ok());
  b.records.push_back(b.records[0]);
  expect_rejected(decode(b, limits), ErrorReason::kTooManyRecords, "window_batch.records[3]");
}

TEST(WindowBatchLimits, TooManyTags) {
  std::vector<Tag> tags;
  for (char c = 'a'; c < 'a' + 17; ++c) tags.push_back({std::string(1, c), "v"});
  expect_rejected(decode(one_record(record("m", tags, 1))), ErrorReason::kTooManyTags,
                  "records[0].tags[16]");
  tags.pop_back();
  EXPECT_TRUE(decode(one_record(record("m", tags, 1))).ok());
}

TEST(WindowBatchLimits, TagOrder) {
  expect_rejected(decode(one_record(record("m", {{"site", "1"}, {"line", "2"}}, 1))),
                  ErrorReason::kTagOrder, "records[0].tags[1].key");
  expect_rejected(decode(one_record(record("m", {{"a", "1"}, {"a", "2"}}, 1))),
                  ErrorReason::kTagOrder, "records[0].tags[1].key");
}

TEST(WindowBatchLimits, ClockBounds) {
  WindowRecord r = record("m", {}, 1);
  r.window_start_ms = 0;
  expect_rejected(decode(one_record(r)), ErrorReason::kClockPast, "records[0].window_start_ms");
  r.window_start_ms = kWindowStart - Limits{}.max_past_ms - 10'000;
  expect_rejected(decode(one_record(r)), ErrorReason::kClockPast, "records[0].window_start_ms");
  r.window_start_ms = kWindowStart + 2 * 24 * 3600 * 1000LL;
  expect_rejected(decode(one_record(r)), ErrorReason::kClockFuture, "records[0].window_start_ms");

  WindowBatch b = simple_batch();
  b.created_ms = kNowMs + Limits{}.max_future_ms + 1;
  expect_rejected(decode(b), ErrorReason::kClockFuture, "window_batch.created_ms");
  b.created_ms = kNowMs - Limits{}.max_past_ms - 1;
  expect_rejected(decode(b), ErrorReason::kClockPast, "window_batch.created_ms");
}

TEST(WindowBatchLimits, Windows) {
  WindowRecord r = record("m", {}, 1);
  r.window_ms = 500;  // below min_window_ms
  r.window_start_ms = kWindowStart;
  expect_rejected(decode(one_record(r)), ErrorReason::kBadWindow, "records[0].window_ms");
  r.window_ms = 2 * 24 * 3600 * 1000;  // above max_window_ms
  r.window_start_ms = 0;
  r.window_start_ms = kNowMs / r.window_ms * r.window_ms;
  expect_rejected(decode(one_record(r)), ErrorReason::kBadWindow, "records[0].window_ms");
  r.window_ms = 7000;  // does not divide a day
  r.window_start_ms = kNowMs / 7000 * 7000;
  expect_rejected(decode(one_record(r)), ErrorReason::kBadWindow, "records[0].window_ms");
  r.window_ms = 10'000;
  r.window_start_ms = kWindowStart + 1;
  expect_rejected(decode(one_record(r)), ErrorReason::kBadWindow, "records[0].window_start_ms");
}

TEST(WindowBatchLimits, InconsistentAggregates) {
  auto batch_with = [](const ProtoWriter& rec) {
    return decode(raw_batch().message(field::kBatchRecords, rec));
  };
  EXPECT_TRUE(batch_with(raw_record()).ok());
  expect_rejected(batch_with(raw_record().fixed64(field::kRecMin, 5)), ErrorReason::kBadAggregate,
                  "window_batch.records[0]");  // min 5 > max 2
  expect_rejected(batch_with(raw_record().fixed64(field::kRecSum, std::nan(""))),
                  ErrorReason::kBadAggregate, "records[0]");
  expect_rejected(batch_with(raw_record().varint(field::kRecCount, 0)), ErrorReason::kBadAggregate,
                  "records[0]");

  sketch::ExpHistogram h;
  for (double v : {1.0, 1.5, 2.0}) h.add(v);
  ProtoWriter hist;
  hist.bytes(1, h.serialize());
  expect_rejected(batch_with(raw_record().message(field::kRecHistogram, hist)),
                  ErrorReason::kBadAggregate, "records[0]");  // 3 values in a count of 2

  expect_rejected(batch_with(raw_record().string(field::kRecTopkOf, "label")),
                  ErrorReason::kBadAggregate, "records[0].topk_of");
}

TEST(WindowBatchLimits, Sketches) {
  sketch::AggregateSpec quantiles;
  quantiles.quantiles = true;
  Limits limits;
  limits.max_sketch_bytes = 8;
  expect_rejected(decode(one_record(record("m", {}, 100, quantiles)), limits),
                  ErrorReason::kSketchTooLarge, "records[0].histogram");

  auto batch_with = [](const ProtoWriter& rec) {
    return decode(raw_batch().message(field::kBatchRecords, rec));
  };
  ProtoWriter garbage;
  garbage.bytes(1, Bytes{0x99, 0x01, 0x02});
  expect_rejected(batch_with(raw_record().message(field::kRecHistogram, garbage)),
                  ErrorReason::kBadSketch, "records[0].histogram");
  expect_rejected(batch_with(raw_record()
                                 .message(field::kRecDistinct, garbage)
                                 .string(field::kRecDistinctOf, "device")),
                  ErrorReason::kBadSketch, "records[0].distinct");
  expect_rejected(
      batch_with(raw_record().message(field::kRecTopk, garbage).string(field::kRecTopkOf, "x")),
      ErrorReason::kBadSketch, "records[0].topk");
  // A sketch submessage without its bytes.
  expect_rejected(batch_with(raw_record().message(field::kRecHistogram, ProtoWriter())),
                  ErrorReason::kBadSketch, "records[0].histogram");
}

// The device-side struct, encoded the way the firmware does.
Bytes encode_device(const edgesketch_v1_ReadingBatch& msg) {
  Bytes out(8192);
  pb_ostream_t stream = pb_ostream_from_buffer(out.data(), out.size());
  EXPECT_TRUE(pb_encode(&stream, edgesketch_v1_ReadingBatch_fields, &msg));
  out.resize(stream.bytes_written);
  return out;
}

std::unique_ptr<edgesketch_v1_ReadingBatch> device_batch() {
  auto msg = std::make_unique<edgesketch_v1_ReadingBatch>();
  std::strcpy(msg->device_id, "d");
  msg->readings_count = 1;
  std::strcpy(msg->readings[0].metric, "m");
  msg->readings[0].ts_ms = kNowMs;
  msg->readings[0].which_payload = edgesketch_v1_Reading_value_tag;
  msg->readings[0].payload.value = 1;
  return msg;
}

Result<ReadingBatch> decode(const edgesketch_v1_ReadingBatch& msg, const Limits& limits = {}) {
  return decode_reading_batch(encode_device(msg), limits, kNowMs);
}

TEST(ReadingBatchLimits, SizeAndTruncation) {
  auto msg = device_batch();
  ASSERT_TRUE(decode(*msg).ok());
  Limits limits;
  limits.max_payload_bytes = 4;
  expect_rejected(decode(*msg, limits), ErrorReason::kPayloadTooLarge, "reading_batch");
  Bytes bytes = encode_device(*msg);
  bytes.pop_back();
  expect_rejected(decode_reading_batch(bytes, {}, kNowMs), ErrorReason::kTruncated,
                  "reading_batch");
}

TEST(ReadingBatchLimits, TooManyReadings) {
  auto msg = device_batch();
  msg->samples_count = 1;
  std::strcpy(msg->samples[0].metric, "s");
  msg->samples[0].base_ms = kNowMs;
  msg->samples[0].ts_delta_ms_count = msg->samples[0].values_count = 5;
  Limits limits;
  limits.max_readings_per_batch = 6;
  EXPECT_TRUE(decode(*msg, limits).ok());
  limits.max_readings_per_batch = 5;
  expect_rejected(decode(*msg, limits), ErrorReason::kTooManyReadings, "reading_batch");
}

TEST(ReadingBatchLimits, Strings) {
  auto msg = device_batch();
  msg->readings[0].which_payload = edgesketch_v1_Reading_label_tag;
  std::strcpy(msg->readings[0].payload.label, "E12345");
  Limits limits;
  limits.max_label_bytes = 5;
  expect_rejected(decode(*msg, limits), ErrorReason::kLabelTooLong,
                  "reading_batch.readings[0].label");
  std::strcpy(msg->readings[0].payload.label, "E\xff");
  expect_rejected(decode(*msg), ErrorReason::kBadString, "reading_batch.readings[0].label");

  msg = device_batch();
  std::strcpy(msg->readings[0].metric, "temperature");
  limits = Limits{};
  limits.max_name_bytes = 4;
  expect_rejected(decode(*msg, limits), ErrorReason::kNameTooLong,
                  "reading_batch.readings[0].metric");

  msg = device_batch();
  msg->device_id[0] = '\0';
  expect_rejected(decode(*msg), ErrorReason::kMissingField, "reading_batch.device_id");
  msg = device_batch();
  msg->readings[0].which_payload = 0;
  expect_rejected(decode(*msg), ErrorReason::kMissingField, "reading_batch.readings[0]");
}

TEST(ReadingBatchLimits, Tags) {
  auto msg = device_batch();
  msg->tags_count = 2;
  std::strcpy(msg->tags[0].key, "site");
  std::strcpy(msg->tags[1].key, "site");
  expect_rejected(decode(*msg), ErrorReason::kDuplicateTag, "reading_batch.tags");

  msg = device_batch();
  msg->tags_count = 1;
  std::strcpy(msg->tags[0].key, "site");
  msg->readings[0].tags_count = 1;
  std::strcpy(msg->readings[0].tags[0].key, "probe");
  Limits limits;
  limits.max_tags = 1;
  expect_rejected(decode(*msg, limits), ErrorReason::kTooManyTags,
                  "reading_batch.readings[0].tags");
  msg->readings[0].tags[0].key[0] = '\0';
  expect_rejected(decode(*msg), ErrorReason::kMissingField,
                  "reading_batch.readings[0].tags[0].key");
}

TEST(ReadingBatchLimits, Samples) {
  auto msg = device_batch();
  msg->samples_count = 1;
  edgesketch_v1_Samples& s = msg->samples[0];
  std::strcpy(s.metric, "s");
  s.base_ms = kNowMs;
  s.ts_delta_ms_count = 3;
  s.values_count = 2;
  expect_rejected(decode(*msg), ErrorReason::kBadSamples, "reading_batch.samples[0]");
  s.values_count = 3;
  s.labels_count = 3;
  expect_rejected(decode(*msg), ErrorReason::kBadSamples, "reading_batch.samples[0]");
}

TEST(ReadingBatchLimits, ClockBounds) {
  auto msg = device_batch();
  msg->readings[0].ts_ms = kNowMs + Limits{}.max_future_ms + 1;
  expect_rejected(decode(*msg), ErrorReason::kClockFuture, "reading_batch.readings[0].ts_ms");
  msg->readings[0].ts_ms = 1000;  // a device that never set its clock
  expect_rejected(decode(*msg), ErrorReason::kClockPast, "reading_batch.readings[0].ts_ms");

  msg = device_batch();
  msg->samples_count = 1;
  edgesketch_v1_Samples& s = msg->samples[0];
  std::strcpy(s.metric, "s");
  s.base_ms = kNowMs;
  s.ts_delta_ms_count = s.values_count = 2;
  s.ts_delta_ms[1] = -2'000'000'000;  // 23 days back: fine
  EXPECT_TRUE(decode(*msg).ok());
  s.ts_delta_ms_count = s.values_count = 3;
  s.ts_delta_ms[2] = -2'000'000'000;  // 46 days back
  expect_rejected(decode(*msg), ErrorReason::kClockPast, "reading_batch.samples[0].ts_delta_ms[2]");
  s.base_ms = std::numeric_limits<std::int64_t>::max();
  s.ts_delta_ms[0] = 1;
  expect_rejected(decode(*msg), ErrorReason::kClockFuture,
                  "reading_batch.samples[0].ts_delta_ms[0]");
}

TEST(AckLimits, EntriesNamesAndSize) {
  Ack ack;
  ack.gateway_id = "gw";
  ack.seqs = {1, 2, 3};
  Limits limits;
  limits.max_ack_entries = 4;
  EXPECT_TRUE(decode_ack(encode_ack(ack), limits).ok());
  ack.rejected = {{4, "x"}, {5, "y"}};
  expect_rejected(decode_ack(encode_ack(ack), limits), ErrorReason::kTooManyAckEntries,
                  "ack.rejected[1]");
  ack.rejected.clear();
  ack.seqs = {1, 2, 3, 4, 5};
  expect_rejected(decode_ack(encode_ack(ack), limits), ErrorReason::kTooManyAckEntries,
                  "ack.seqs[4]");

  Ack anonymous;
  expect_rejected(decode_ack(encode_ack(anonymous), {}), ErrorReason::kMissingField,
                  "ack.gateway_id");
  Ack long_reason;
  long_reason.gateway_id = "gw";
  long_reason.rejected = {{1, std::string(200, 'r')}};
  expect_rejected(decode_ack(encode_ack(long_reason), {}), ErrorReason::kNameTooLong,
                  "ack.rejected[0].reason");
  limits = Limits{};
  limits.max_payload_bytes = 3;
  expect_rejected(decode_ack(encode_ack(ack), limits), ErrorReason::kPayloadTooLarge, "ack");
}

}  // namespace
}  // namespace edgesketch::wire
