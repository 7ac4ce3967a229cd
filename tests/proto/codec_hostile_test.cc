// Hostile input: truncations, bit flips, random bytes and oversized counts. Every input must
// give an error with a reason or a valid value that re-encodes to an equal value; never a crash
// (run this under -DES_SANITIZE=address).
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "edgesketch/wire/batch_view.h"
#include "edgesketch/wire/codec.h"
#include "wire_fixtures.h"

namespace edgesketch::wire {
namespace {

using testing::kNowMs;
using testing::ProtoWriter;
namespace field = testing::field;

// Decodes `bytes`; a success must survive encode -> decode unchanged, a failure must carry a
// reason, and decode_window_batch_view() must give the same answer. Returns whether it decoded.
bool check_window_batch(ByteSpan bytes) {
  auto r = decode_window_batch(bytes, Limits{}, kNowMs);
  WindowBatchView view;
  const Status view_status = decode_window_batch_view(bytes, Limits{}, kNowMs, view);
  EXPECT_EQ(view_status.to_string(), r.status().to_string());
  if (view_status.ok() && r.ok()) {
    auto materialized = to_window_batch(view);
    EXPECT_TRUE(materialized.ok() && *materialized == *r);
  }
  if (!r.ok()) {
    EXPECT_NE(error_reason(r.status()), ErrorReason::kUnknown) << r.status().to_string();
    return false;
  }
  auto again = decode_window_batch(encode_window_batch(*r), Limits{}, kNowMs);
  EXPECT_TRUE(again.ok()) << again.status().to_string();
  if (again.ok()) {
    EXPECT_EQ(*again, *r);
  }
  return true;
}

bool check_reading_batch(ByteSpan bytes) {
  auto r = decode_reading_batch(bytes, Limits{}, kNowMs);
  if (!r.ok()) {
    EXPECT_NE(error_reason(r.status()), ErrorReason::kUnknown) << r.status().to_string();
    return false;
  }
  auto encoded = encode_reading_batch(*r);
  EXPECT_TRUE(encoded.ok()) << encoded.status().to_string();
  if (!encoded.ok()) return true;
  auto again = decode_reading_batch(*encoded, Limits{}, kNowMs);
  EXPECT_TRUE(again.ok()) << again.status().to_string();
  if (again.ok()) {
    EXPECT_TRUE(testing::same_readings(testing::canonical(again->readings),
                                       testing::canonical(r->readings)));
  }
  return true;
}

bool check_ack(ByteSpan bytes) {
  auto r = decode_ack(bytes, Limits{});
  if (!r.ok()) {
    EXPECT_NE(error_reason(r.status()), ErrorReason::kUnknown) << r.status().to_string();
    return false;
  }
  auto again = decode_ack(encode_ack(*r), Limits{});
  EXPECT_TRUE(again.ok()) << again.status().to_string();
  if (again.ok()) {
    EXPECT_EQ(*again, *r);
  }
  return true;
}

Bytes sample_reading_bytes() {
  ReadingBatch b;
  b.device_id = "dev";
  b.tags = {{"site", "s"}};
  for (int i = 0; i < 20; ++i) {
    b.readings.push_back(
        Reading{"dev", "t", {{"site", "s"}}, kNowMs - 100 + i, 1.0 * i, "", false});
  }
  b.readings.push_back(Reading{"dev", "e", {{"k", "v"}, {"site", "s"}}, kNowMs, 0, "E", true});
  return encode_reading_batch(b).value();
}

Ack sample_ack() {
  Ack ack;
  ack.gateway_id = "gw";
  ack.seqs = {1, 2, 300, 1ull << 40};
  ack.rejected = {{5, "bad_window"}};
  return ack;
}

TEST(WireHostile, WindowBatchTruncatedAtEveryLength) {
  const Bytes full = encode_window_batch(testing::sample_window_batch());
  ASSERT_TRUE(check_window_batch(full));
  int decoded = 0;
  for (std::size_t n = 0; n < full.size(); ++n) {
    decoded += check_window_batch(ByteSpan(full.data(), n));
  }
  // record_count comes last: no strict prefix decodes, not even one cut at a record boundary.
  EXPECT_EQ(decoded, 0);
}

TEST(WireHostile, WindowBatchBitFlips) {
  // Small enough to flip every bit; includes every sketch kind but the dense HyperLogLog.
  WindowBatch b = testing::sample_window_batch();
  b.records.erase(b.records.begin() + 3);
  const Bytes full = encode_window_batch(b);
  int decoded = 0;
  for (std::size_t i = 0; i < full.size() * 8; ++i) {
    Bytes flipped = full;
    flipped[i / 8] ^= static_cast<std::uint8_t>(1u << (i % 8));
    decoded += check_window_batch(flipped);
  }
  EXPECT_GT(decoded, 0);  // flips inside values decode to other valid batches
  EXPECT_LT(decoded, static_cast<int>(full.size() * 8));
}

TEST(WireHostile, ReadingBatchTruncationsAndFlips) {
  const Bytes full = sample_reading_bytes();
  ASSERT_TRUE(check_reading_batch(full));
  for (std::size_t n = 0; n < full.size(); ++n) check_reading_batch(ByteSpan(full.data(), n));
  for (std::size_t i = 0; i < full.size() * 8; ++i) {
    Bytes flipped = full;
    flipped[i / 8] ^= static_cast<std::uint8_t>(1u << (i % 8));
    check_reading_batch(flipped);
  }
}

TEST(WireHostile, AckTruncationsAndFlips) {
  const Bytes full = encode_ack(sample_ack());
  ASSERT_TRUE(check_ack(full));
  for (std::size_t n = 0; n < full.size(); ++n) check_ack(ByteSpan(full.data(), n));
  for (std::size_t i = 0; i < full.size() * 8; ++i) {
    Bytes flipped = full;
    flipped[i / 8] ^= static_cast<std::uint8_t>(1u << (i % 8));
    check_ack(flipped);
  }
}

TEST(WireHostile, RandomBytesAndMutations) {
  std::mt19937_64 rng(20240601);
  const std::vector<Bytes> seeds = {encode_window_batch(testing::sample_window_batch()),
                                    sample_reading_bytes(), encode_ack(sample_ack())};
  for (int round = 0; round < 3000; ++round) {
    Bytes in;
    if (round % 3 == 0) {
      in.resize(rng() % 300);
      for (auto& b : in) b = static_cast<std::uint8_t>(rng());
    } else {
      in = seeds[rng() % seeds.size()];
      for (int e = 0; e < 1 + static_cast<int>(rng() % 8); ++e) {
        in[rng() % in.size()] = static_cast<std::uint8_t>(rng());
      }
    }
    check_window_batch(in);
    check_reading_batch(in);
    check_ack(in);
  }
}

TEST(WireHostile, WrongWireTypesForCallbackFields) {
  // Every host-side callback field given every scalar wire type: an error, never a misread.
  for (std::uint32_t f : {field::kBatchGatewayId, field::kBatchRecords, field::kBatchTenant}) {
    ProtoWriter w = testing::raw_batch();
    EXPECT_FALSE(check_window_batch(ProtoWriter(w).varint(f, 1).data()));
    EXPECT_FALSE(check_window_batch(ProtoWriter(w).fixed64(f, 1).data()));
  }
  for (std::uint32_t f : {field::kRecMetric, field::kRecTags, field::kRecDistinctOf,
                          field::kRecTopkOf, field::kRecHistogram}) {
    ProtoWriter rec = testing::raw_record();
    rec.varint(f, 1);
    auto r = decode_window_batch(testing::raw_batch().message(field::kBatchRecords, rec).data(),
                                 Limits{}, kNowMs);
    EXPECT_EQ(error_reason(r.status()), ErrorReason::kMalformed) << r.status().to_string();
  }
  // A tag whose key is a varint.
  ProtoWriter tag;
  tag.varint(field::kTagKey, 7);
  ProtoWriter rec = testing::raw_record();
  rec.message(field::kRecTags, tag);
  auto r = decode_window_batch(testing::raw_batch().message(field::kBatchRecords, rec).data(),
                               Limits{}, kNowMs);
  EXPECT_EQ(error_reason(r.status()), ErrorReason::kMalformed) << r.status().to_string();
  // Ack rejections as a varint; gateway as fixed64.
  EXPECT_FALSE(check_ack(ProtoWriter().string(1, "gw").varint(3, 1).data()));
  EXPECT_FALSE(check_ack(ProtoWriter().fixed64(1, 2.0).data()));
}

TEST(WireHostile, LengthsBeyondThePayload) {
  // records: a length of 2^32 - 1 with 3 bytes behind it.
  Bytes huge = testing::raw_batch().data();
  for (std::uint8_t b : {0x2a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3}) huge.push_back(b);
  auto r = decode_window_batch(huge, Limits{}, kNowMs);
  EXPECT_EQ(error_reason(r.status()), ErrorReason::kTruncated) << r.status().to_string();
  // A varint that never ends.
  Bytes endless = {0x08};
  endless.insert(endless.end(), 20, 0xff);
  r = decode_window_batch(endless, Limits{}, kNowMs);
  EXPECT_FALSE(r.ok());
}

TEST(WireHostile, RecordCountIsBoundedWhileDecoding) {
  // 20,000 valid records in ~700 KB: decoding must stop at record 10,000, not after building
  // all of them.
  ProtoWriter w = testing::raw_batch(20'000);
  const ProtoWriter rec = testing::raw_record();
  for (int i = 0; i < 20'000; ++i) w.message(field::kBatchRecords, rec);
  ASSERT_LE(w.data().size(), Limits{}.max_payload_bytes);
  auto r = decode_window_batch(w.data(), Limits{}, kNowMs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(error_reason(r.status()), ErrorReason::kTooManyRecords);
  EXPECT_NE(r.status().message().find("records[10000]"), std::string::npos)
      << r.status().to_string();
}

TEST(WireHostile, AckEntriesAreBoundedWhileDecoding) {
  // 500,000 packed seqs in one field: decoding stops at the 10,001st.
  Bytes packed;
  for (int i = 0; i < 500'000; ++i) put_varint(packed, 1);
  ProtoWriter w;
  w.string(1, "gw").bytes(2, packed);
  auto r = decode_ack(w.data(), Limits{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(error_reason(r.status()), ErrorReason::kTooManyAckEntries);
  EXPECT_NE(r.status().message().find("ack.seqs[10000]"), std::string::npos);
}

TEST(WireHostile, FieldsInAnyOrder) {
  // Protobuf allows any field order; only our encoders promise field-number order.
  ProtoWriter w;
  w.message(field::kBatchRecords, testing::raw_record())
      .varint(field::kBatchRecordCount, 1)
      .string(field::kBatchGatewayId, "gw")
      .svarint(field::kBatchCreatedMs, kNowMs)
      .varint(field::kBatchSchemaVersion, 1);
  auto r = decode_window_batch(w.data(), Limits{}, kNowMs);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->records.size(), 1u);
  // A newer schema announced after its records is still refused.
  w.varint(field::kBatchSchemaVersion, 2);
  EXPECT_EQ(testing::reason_of(decode_window_batch(w.data(), Limits{}, kNowMs)),
            ErrorReason::kSchemaVersion);
}

TEST(WireHostile, UnknownFieldsAreSkipped) {
  ProtoWriter rec = testing::raw_record();
  rec.varint(99, 1).string(100, "future").fixed64(101, 2.0);
  ProtoWriter tag;
  tag.string(field::kTagKey, "k").string(field::kTagValue, "v").varint(3, 9);
  rec.message(field::kRecTags, tag);
  ProtoWriter w = testing::raw_batch();
  w.message(field::kBatchRecords, rec).string(77, "ignored");
  auto r = decode_window_batch(w.data(), Limits{}, kNowMs);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->records[0].key.tags, (std::vector<Tag>{{"k", "v"}}));
}

}  // namespace
}  // namespace edgesketch::wire
