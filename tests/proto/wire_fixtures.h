// Shared fixtures of the es_wire tests: sample messages, hex helpers and a raw protobuf writer
// for payloads the encoders would never produce.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "edgesketch/sketch/hash.h"
#include "edgesketch/wire/codec.h"

namespace edgesketch::wire::testing {

// The receiver's clock in every test: 2023-11-14T22:13:20Z.
inline constexpr std::int64_t kNowMs = 1'700'000'000'000;
// A 10 s window shortly before kNowMs.
inline constexpr std::int64_t kWindowStart = 1'699'999'990'000;
inline constexpr double kInf = std::numeric_limits<double>::infinity();

inline std::string to_hex(ByteSpan bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

inline Bytes from_hex(std::string_view hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

// prefix + n. (Spelled out because GCC 12 warns falsely about `"E" + std::to_string(n)`.)
inline std::string numbered(std::string_view prefix, long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

template <typename T>
ErrorReason reason_of(const Result<T>& r) {
  return r.ok() ? ErrorReason::kUnknown : error_reason(r.status());
}

// Readings in a canonical order (the wire does not keep the order of columnar vs row readings).
inline std::vector<Reading> canonical(std::vector<Reading> readings) {
  std::stable_sort(readings.begin(), readings.end(), [](const Reading& a, const Reading& b) {
    return std::tie(a.metric, a.ts_ms, a.tags, a.is_label, a.label) <
           std::tie(b.metric, b.ts_ms, b.tags, b.is_label, b.label);
  });
  return readings;
}

// Reading equality with values compared bit for bit (NaN == NaN).
inline bool same_readings(const std::vector<Reading>& a, const std::vector<Reading>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    Reading x = a[i];
    Reading y = b[i];
    if (std::bit_cast<std::uint64_t>(x.value) != std::bit_cast<std::uint64_t>(y.value)) {
      return false;
    }
    x.value = y.value = 0;
    if (!(x == y)) return false;
  }
  return true;
}

// A record of `metric` in the 10 s window at kWindowStart, with values 1..n.
inline WindowRecord record(std::string metric, std::vector<Tag> tags, int n,
                           const sketch::AggregateSpec& spec = {}) {
  WindowRecord r;
  r.key.metric = std::move(metric);
  r.key.tags = std::move(tags);
  r.window_start_ms = kWindowStart;
  r.window_ms = 10'000;
  r.agg = sketch::WindowAggregate(spec);
  for (int i = 1; i <= n; ++i) r.agg.add_value(i);
  if (spec.distinct) r.distinct_of = "device";
  if (spec.topk) r.topk_of = "label";
  return r;
}

// A batch with one record of every kind: plain, histogram, sparse and dense HyperLogLog, top-K,
// all sketches together, a delta and an events-only record.
inline WindowBatch sample_window_batch() {
  WindowBatch b;
  b.tenant = "acme";
  b.gateway_id = "gw-01";
  b.seq = 42;
  b.created_ms = kNowMs - 1500;
  b.records.push_back(record("temperature", {{"device", "d-1"}, {"site", "s1"}}, 10));

  sketch::AggregateSpec quantiles;
  quantiles.quantiles = true;
  b.records.push_back(record("vibration", {{"line", "l2"}}, 500, quantiles));

  sketch::AggregateSpec distinct;
  distinct.distinct = true;
  WindowRecord sparse = record("vibration", {{"line", "l3"}}, 3, distinct);
  for (int i = 0; i < 3; ++i) sparse.agg.add_distinct(sketch::hash_key(numbered("d-", i)));
  b.records.push_back(std::move(sparse));
  WindowRecord dense = record("vibration", {{"line", "l4"}}, 5000, distinct);
  for (int i = 0; i < 5000; ++i) dense.agg.add_distinct(sketch::hash_key(std::to_string(i)));
  b.records.push_back(std::move(dense));

  sketch::AggregateSpec topk;
  topk.topk = true;
  WindowRecord events = record("event", {{"site", "s1"}}, 0, topk);
  for (int i = 0; i < 50; ++i) {
    const std::string code = numbered("E", i % 7);
    events.agg.add_event();
    events.agg.add_top(sketch::hash_key(code), code);
  }
  b.records.push_back(std::move(events));

  sketch::AggregateSpec all;
  all.quantiles = all.distinct = all.topk = true;
  WindowRecord full =
      record("pressure", {{"device", "d-2"}, {"line", "l1"}, {"site", "s2"}}, 20, all);
  full.agg.add_distinct(sketch::hash_key("x"));
  full.agg.add_top(sketch::hash_key("y"), "y");
  full.delta = true;
  full.window_ms = 60'000;
  full.window_start_ms = 1'699'999'920'000;
  b.records.push_back(std::move(full));

  WindowRecord negative = record("temperature",
                                 {{"unit",
                                   "\xC2\xB0"
                                   "C"}},
                                 0);
  negative.agg.add_value(-40.25);
  negative.agg.add_value(-0.0);
  b.records.push_back(std::move(negative));
  return b;
}

// Writes raw protobuf fields: the tests' way to build payloads no encoder would write.
class ProtoWriter {
 public:
  ProtoWriter& varint(std::uint32_t field, std::uint64_t v) {
    key(field, 0);
    put_varint(out_, v);
    return *this;
  }
  ProtoWriter& svarint(std::uint32_t field, std::int64_t v) {
    return varint(field, zigzag_encode(v));
  }
  ProtoWriter& fixed64(std::uint32_t field, double v) {
    key(field, 1);
    put_f64(out_, v);
    return *this;
  }
  ProtoWriter& bytes(std::uint32_t field, ByteSpan b) {
    key(field, 2);
    put_varint(out_, b.size());
    put_bytes(out_, b);
    return *this;
  }
  ProtoWriter& string(std::uint32_t field, std::string_view s) {
    return bytes(field, ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  }
  ProtoWriter& message(std::uint32_t field, const ProtoWriter& m) { return bytes(field, m.out_); }
  ProtoWriter& raw(ByteSpan b) {
    put_bytes(out_, b);
    return *this;
  }
  const Bytes& data() const { return out_; }

 private:
  void key(std::uint32_t field, int wire_type) { put_varint(out_, field << 3 | wire_type); }
  Bytes out_;
};

// Field numbers of proto/edgesketch.proto used by hand-built payloads.
namespace field {
inline constexpr std::uint32_t kBatchSchemaVersion = 1, kBatchGatewayId = 2, kBatchSeq = 3,
                               kBatchCreatedMs = 4, kBatchRecords = 5, kBatchTenant = 6,
                               kBatchRecordCount = 7;
inline constexpr std::uint32_t kRecMetric = 1, kRecTags = 2, kRecWindowStart = 3, kRecWindowMs = 4,
                               kRecCount = 5, kRecSum = 6, kRecMin = 7, kRecMax = 8,
                               kRecHistogram = 9, kRecDistinct = 10, kRecTopk = 11, kRecDelta = 12,
                               kRecDistinctOf = 13, kRecTopkOf = 14;
inline constexpr std::uint32_t kTagKey = 1, kTagValue = 2;
}  // namespace field

// A valid record with raw fields (no sketches), for tests that change one field at a time.
inline ProtoWriter raw_record(std::string_view metric = "m") {
  ProtoWriter r;
  r.string(field::kRecMetric, metric)
      .svarint(field::kRecWindowStart, kWindowStart)
      .varint(field::kRecWindowMs, 10'000)
      .varint(field::kRecCount, 2)
      .fixed64(field::kRecSum, 3)
      .fixed64(field::kRecMin, 1)
      .fixed64(field::kRecMax, 2);
  return r;
}

// A valid batch header (schema 1, gateway, seq, created, record_count) without the records;
// fields may come in any order, so tests append the records after it.
inline ProtoWriter raw_batch(std::uint32_t record_count = 1) {
  ProtoWriter b;
  b.varint(field::kBatchRecordCount, record_count)
      .varint(field::kBatchSchemaVersion, 1)
      .string(field::kBatchGatewayId, "gw")
      .varint(field::kBatchSeq, 7)
      .svarint(field::kBatchCreatedMs, kNowMs);
  return b;
}

}  // namespace edgesketch::wire::testing
