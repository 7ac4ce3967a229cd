// Round trips of every message through the wire codec.
#include <gtest/gtest.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "edgesketch.pb.h"
#include "edgesketch/wire/batch_view.h"
#include "edgesketch/wire/codec.h"
#include "edgesketch/wire/compression.h"
#include "wire_fixtures.h"

namespace edgesketch::wire {
namespace {

using testing::canonical;
using testing::kNowMs;
using testing::same_readings;
using testing::sample_window_batch;

bool contains(const Bytes& haystack, const Bytes& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

TEST(WindowBatchRoundTrip, AllRecordKinds) {
  const WindowBatch batch = sample_window_batch();
  const Bytes bytes = encode_window_batch(batch);
  auto decoded = decode_window_batch(bytes, Limits{}, kNowMs);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, batch);
  // Spot checks beyond operator==.
  ASSERT_EQ(decoded->records.size(), batch.records.size());
  EXPECT_TRUE(decoded->records[3].agg.distinct() != nullptr);
  EXPECT_FALSE(decoded->records[3].agg.distinct()->is_sparse());
  EXPECT_TRUE(decoded->records[2].agg.distinct()->is_sparse());
  EXPECT_TRUE(decoded->records[5].delta);
  EXPECT_EQ(decoded->records[4].agg.min(), testing::kInf);
  EXPECT_EQ(decoded->records[4].agg.count(), 50u);
  EXPECT_TRUE(std::signbit(decoded->records[6].agg.max()));  // -0.0 survives
  // Canonical: re-encoding the decoded batch gives the same bytes.
  EXPECT_EQ(encode_window_batch(*decoded), bytes);
}

TEST(WindowBatchRoundTrip, SketchBytesTravelVerbatim) {
  const WindowBatch batch = sample_window_batch();
  const Bytes bytes = encode_window_batch(batch);
  for (const WindowRecord& r : batch.records) {
    if (r.agg.histogram()) {
      EXPECT_TRUE(contains(bytes, r.agg.histogram()->serialize()));
    }
    if (r.agg.distinct()) {
      EXPECT_TRUE(contains(bytes, r.agg.distinct()->serialize()));
    }
    if (r.agg.topk()) {
      EXPECT_TRUE(contains(bytes, r.agg.topk()->serialize()));
    }
  }
}

// A view's records point into the payload (or, compressed, into the view's own copy of it):
// their sketch bytes are exactly the sketches' serialize() output, absent sketches are empty,
// and the materialized batch is the decoded one.
TEST(WindowBatchRoundTrip, ViewPointsAtEachRecordsBytes) {
  const WindowBatch batch = sample_window_batch();
  const Bytes plain = encode_window_batch(batch);
  for (const Bytes& bytes : {plain, compress_window_batch(plain, 3)}) {
    WindowBatchView view;
    const Status st = decode_window_batch_view(bytes, Limits{}, kNowMs, view);
    ASSERT_TRUE(st.ok()) << st.to_string();
    auto materialized = to_window_batch(view);
    ASSERT_TRUE(materialized.ok()) << materialized.status().to_string();
    EXPECT_EQ(*materialized, batch);
    ASSERT_EQ(view.records().size(), batch.records.size());
    auto same = [](ByteSpan s, const auto* sketch) {
      if (sketch == nullptr) return s.empty();
      return Bytes(s.begin(), s.end()) == sketch->serialize();
    };
    for (std::size_t i = 0; i < batch.records.size(); ++i) {
      const WindowRecordView& v = view.records()[i];
      const sketch::WindowAggregate& agg = batch.records[i].agg;
      EXPECT_EQ(v.metric, batch.records[i].key.metric);
      EXPECT_TRUE(same(v.histogram, agg.histogram())) << "record " << i;
      EXPECT_TRUE(same(v.distinct, agg.distinct())) << "record " << i;
      EXPECT_TRUE(same(v.topk, agg.topk())) << "record " << i;
      if (&bytes == &plain && !v.histogram.empty()) {
        EXPECT_TRUE(v.histogram.data() >= plain.data() &&
                    v.histogram.data() + v.histogram.size() <= plain.data() + plain.size());
      }
    }
  }
  // Errors are the plain decoder's, and leave no records behind.
  const Bytes cut(plain.begin(), plain.end() - 3);
  WindowBatchView view;
  ASSERT_TRUE(decode_window_batch_view(plain, Limits{}, kNowMs, view).ok());
  const Status bad = decode_window_batch_view(cut, Limits{}, kNowMs, view);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.to_string(), decode_window_batch(cut, Limits{}, kNowMs).status().to_string());
  EXPECT_TRUE(view.records().empty());
}

TEST(WindowBatchRoundTrip, EmptyBatch) {
  WindowBatch batch;
  batch.gateway_id = "gw";
  batch.seq = 0;
  batch.created_ms = kNowMs;
  auto decoded = decode_window_batch(encode_window_batch(batch), Limits{}, kNowMs);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, batch);
  EXPECT_TRUE(decoded->tenant.empty());
}

TEST(WindowBatchRoundTrip, ExtremeScalars) {
  WindowBatch batch;
  batch.gateway_id = std::string(Limits{}.max_name_bytes, 'g');
  batch.seq = std::numeric_limits<std::uint64_t>::max();
  batch.created_ms = kNowMs + Limits{}.max_future_ms;
  WindowRecord r = testing::record("m", {}, 0);
  r.window_ms = 24 * 3600 * 1000;
  r.window_start_ms = kNowMs / r.window_ms * r.window_ms;
  r.agg.add_value(-1e300);
  r.agg.add_value(1e300);
  r.agg.add_value(5e-324);  // subnormal
  r.key.tags = {{"k", ""}, {"k2", "\xF0\x9F\x98\x80"}};
  batch.records.push_back(r);
  auto decoded = decode_window_batch(encode_window_batch(batch), Limits{}, kNowMs);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, batch);
}

TEST(AckRoundTrip, SeqsAndRejections) {
  Ack ack;
  ack.gateway_id = "gw-01";
  ack.seqs = {0, 1, 127, 128, 1'000'000, std::numeric_limits<std::uint64_t>::max()};
  ack.rejected = {{9, "clock_future"}, {10, ""}};
  const Bytes bytes = encode_ack(ack);
  auto decoded = decode_ack(bytes, Limits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, ack);
  EXPECT_EQ(encode_ack(*decoded), bytes);

  Ack bare;
  bare.gateway_id = "gw";
  auto decoded_bare = decode_ack(encode_ack(bare), Limits{});
  ASSERT_TRUE(decoded_bare.ok());
  EXPECT_EQ(*decoded_bare, bare);
}

TEST(AckRoundTrip, AcceptsUnpackedSeqs) {
  // proto2-style senders repeat the field instead of packing it.
  testing::ProtoWriter w;
  w.string(1, "gw").varint(2, 5).varint(2, 6).varint(2, 300);
  auto decoded = decode_ack(w.data(), Limits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded->seqs, (std::vector<std::uint64_t>{5, 6, 300}));
}

ReadingBatch sample_reading_batch() {
  ReadingBatch b;
  b.device_id = "dev-7";
  b.tags = {{"line", "l1"}, {"site", "s1"}};
  b.batch_seq = 99;
  auto add = [&](std::string metric, std::int64_t ts, double value) {
    Reading r;
    r.device_id = b.device_id;
    r.metric = std::move(metric);
    r.tags = b.tags;
    r.ts_ms = ts;
    r.value = value;
    b.readings.push_back(std::move(r));
  };
  for (int i = 0; i < 300; ++i) add("vibration", kNowMs - 3000 + i * 10, std::sin(i) * 5);
  add("vibration", kNowMs - 5000, std::nan(""));  // out of order, not a number
  add("temperature", kNowMs - 1000, 21.5);
  add("temperature", kNowMs - 500, -kNowMs);
  for (int i = 0; i < 40; ++i) {
    Reading r;
    r.device_id = b.device_id;
    r.metric = "event";
    r.tags = b.tags;
    r.ts_ms = kNowMs - 100 + i;
    r.is_label = true;
    r.label = testing::numbered("E", i % 3);
    b.readings.push_back(std::move(r));
  }
  Reading tagged;
  tagged.device_id = b.device_id;
  tagged.metric = "humidity";
  tagged.tags = {{"line", "l9"}, {"probe", "p2"}, {"site", "s1"}};  // overrides "line"
  tagged.ts_ms = kNowMs - 1;
  tagged.value = 55;
  b.readings.push_back(tagged);
  return b;
}

TEST(ReadingBatchRoundTrip, ColumnarAndRowReadings) {
  const ReadingBatch batch = sample_reading_batch();
  auto bytes = encode_reading_batch(batch);
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto decoded = decode_reading_batch(*bytes, Limits{}, kNowMs);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded->device_id, batch.device_id);
  EXPECT_EQ(decoded->tags, batch.tags);
  EXPECT_EQ(decoded->batch_seq, batch.batch_seq);
  EXPECT_TRUE(same_readings(canonical(decoded->readings), canonical(batch.readings)));

  // The layout a device would send: vibration in 2 columns (256 + 45), temperature in one,
  // events in two label columns (32 + 8); the reading with its own tags as a row.
  auto msg = std::make_unique<edgesketch_v1_ReadingBatch>();
  pb_istream_t in = pb_istream_from_buffer(bytes->data(), bytes->size());
  ASSERT_TRUE(pb_decode(&in, edgesketch_v1_ReadingBatch_fields, msg.get()));
  EXPECT_EQ(msg->samples_count, 5);
  EXPECT_EQ(msg->samples[0].values_count, 256);
  EXPECT_EQ(msg->samples[3].labels_count, 32);
  EXPECT_EQ(msg->readings_count, 1);
  EXPECT_EQ(msg->readings[0].tags_count, 2);
}

TEST(ReadingBatchRoundTrip, DecodesDeviceLayout) {
  // Built the way the firmware fills its static struct: Reading i at base_ms + delta[0..i].
  auto msg = std::make_unique<edgesketch_v1_ReadingBatch>();
  std::strcpy(msg->device_id, "d");
  msg->samples_count = 1;
  edgesketch_v1_Samples& s = msg->samples[0];
  std::strcpy(s.metric, "t");
  s.base_ms = kNowMs - 1000;
  s.ts_delta_ms_count = s.values_count = 3;
  s.ts_delta_ms[0] = 5;
  s.ts_delta_ms[1] = 10;
  s.ts_delta_ms[2] = -3;
  s.values[0] = 1;
  s.values[1] = 2;
  s.values[2] = 3;
  msg->readings_count = 1;
  std::strcpy(msg->readings[0].metric, "code");
  msg->readings[0].ts_ms = kNowMs;
  msg->readings[0].which_payload = edgesketch_v1_Reading_label_tag;
  std::strcpy(msg->readings[0].payload.label, "E7");
  msg->readings[0].tags_count = 1;
  std::strcpy(msg->readings[0].tags[0].key, "k");
  std::strcpy(msg->readings[0].tags[0].value, "v");

  Bytes bytes(4096);
  pb_ostream_t out = pb_ostream_from_buffer(bytes.data(), bytes.size());
  ASSERT_TRUE(pb_encode(&out, edgesketch_v1_ReadingBatch_fields, msg.get()));
  bytes.resize(out.bytes_written);
  auto decoded = decode_reading_batch(bytes, Limits{}, kNowMs);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  ASSERT_EQ(decoded->readings.size(), 4u);
  EXPECT_EQ(decoded->readings[0].ts_ms, kNowMs - 995);
  EXPECT_EQ(decoded->readings[1].ts_ms, kNowMs - 985);
  EXPECT_EQ(decoded->readings[2].ts_ms, kNowMs - 988);
  EXPECT_EQ(decoded->readings[2].value, 3);
  EXPECT_EQ(decoded->readings[3].label, "E7");
  EXPECT_TRUE(decoded->readings[3].is_label);
  EXPECT_EQ(decoded->readings[3].tags, (std::vector<Tag>{{"k", "v"}}));
  EXPECT_EQ(decoded->readings[3].device_id, "d");
}

TEST(ReadingBatchRoundTrip, EncodeRefusesWhatTheDeviceLayoutCannotHold) {
  ReadingBatch batch;
  batch.device_id = "d";
  Reading r;
  r.metric = "m";
  r.ts_ms = kNowMs;
  for (int i = 0; i < 8 * 256 + 16; ++i) {
    r.metric = testing::numbered("m", i / 256);  // 8 full columns, then 16 rows
    batch.readings.push_back(r);
  }
  ASSERT_TRUE(encode_reading_batch(batch).ok());
  batch.readings.push_back(r);
  auto too_many = encode_reading_batch(batch);
  EXPECT_EQ(testing::reason_of(too_many), ErrorReason::kTooManyReadings);

  ReadingBatch label;
  label.device_id = "d";
  r.is_label = true;
  r.label = std::string(48, 'x');
  label.readings.push_back(r);
  EXPECT_EQ(testing::reason_of(encode_reading_batch(label)), ErrorReason::kLabelTooLong);

  ReadingBatch missing_tag;
  missing_tag.device_id = "d";
  missing_tag.tags = {{"site", "s"}};
  missing_tag.readings.push_back(Reading{"d", "m", {}, kNowMs, 1, "", false});
  EXPECT_EQ(encode_reading_batch(missing_tag).status().code(), StatusCode::kInvalidArgument);

  ReadingBatch other_device;
  other_device.device_id = "d";
  other_device.readings.push_back(Reading{"e", "m", {}, kNowMs, 1, "", false});
  EXPECT_EQ(encode_reading_batch(other_device).status().code(), StatusCode::kInvalidArgument);

  ReadingBatch duplicate;
  duplicate.device_id = "d";
  duplicate.tags = {{"a", "1"}, {"a", "2"}};
  EXPECT_EQ(testing::reason_of(encode_reading_batch(duplicate)), ErrorReason::kDuplicateTag);
}

TEST(ReadingBatchRoundTrip, EmptyBatch) {
  ReadingBatch batch;
  batch.device_id = "d";
  auto bytes = encode_reading_batch(batch);
  ASSERT_TRUE(bytes.ok());
  auto decoded = decode_reading_batch(*bytes, Limits{}, kNowMs);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, batch);
}

}  // namespace
}  // namespace edgesketch::wire
