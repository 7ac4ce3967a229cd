// decode_window_batch_view(): the WindowBatch wire format parsed in place. It follows nanopb
// 0.4's rules (varint limits, wire-type checks, unknown fields skipped, a repeated singular field
// keeps its last value, a submessage given twice merges) and codec.cc's checks in codec.cc's
// order, so that both decoders accept the same payloads and fail with the same Status.
#include "edgesketch/wire/batch_view.h"

#include <fmt/format.h>

#include <bit>
#include <limits>
#include <new>
#include <optional>
#include <utility>

#include "edgesketch.pb.h"
#include "edgesketch/sketch/exp_histogram.h"
#include "edgesketch/sketch/hyperloglog.h"
#include "edgesketch/sketch/topk.h"
#include "edgesketch/sketch/window_aggregate.h"
#include "edgesketch/wire/compression.h"
#include "validation.h"

namespace edgesketch::wire {
namespace {

using internal::field_error;
using internal::FieldPath;

enum WireType : std::uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

// State of one decode. The first error wins (as codec.cc's DecodeContext); a failure of the
// protobuf layer leaves nanopb's message in pb_error for the enclosing message to report.
struct Ctx {
  const Limits& limits;
  std::int64_t now_ms;
  Status error;
  const char* pb_error = nullptr;

  bool fail(Status s) {
    if (error.ok()) error = std::move(s);
    return false;
  }
  bool fail(ErrorReason reason, const FieldPath& path, std::string_view detail) {
    return fail(field_error(reason, path, detail));
  }
  bool pb_fail(const char* msg) {
    pb_error = msg;
    return false;
  }
  // A failed parse of the message at `path`, as internal::decode_failure() reports it.
  bool fail_message(const FieldPath& path) {
    if (!error.ok()) return false;
    const std::string_view msg = pb_error != nullptr ? pb_error : "(none)";
    const bool truncated = msg == "end-of-stream" || msg == "parent stream too short";
    return fail(field_error(truncated ? ErrorReason::kTruncated : ErrorReason::kMalformed, path,
                            fmt::format("protobuf decoding failed: {}", msg)));
  }
};

// A protobuf stream over memory with nanopb's acceptance rules.
class Reader {
 public:
  Reader() = default;
  explicit Reader(ByteSpan bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  bool done() const { return p_ == end_; }
  std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }
  ByteSpan rest() const { return ByteSpan(p_, left()); }

  // pb_decode_varint(): at most 10 bytes, the tenth 0 or 1.
  bool varint64(Ctx& ctx, std::uint64_t& out) {
    std::uint64_t result = 0;
    unsigned bitpos = 0;
    std::uint8_t b;
    do {
      if (p_ == end_) return ctx.pb_fail("end-of-stream");
      b = *p_++;
      if (bitpos >= 63 && (b & 0xfe) != 0) return ctx.pb_fail("varint overflow");
      result |= static_cast<std::uint64_t>(b & 0x7f) << bitpos;
      bitpos += 7;
    } while (b & 0x80);
    out = result;
    return true;
  }
  // pb_decode_varint32(): bits past 32 must be zero or a sign extension of bit 31.
  bool varint32(Ctx& ctx, std::uint32_t& out) {
    if (p_ == end_) return ctx.pb_fail("end-of-stream");
    std::uint8_t b = *p_++;
    std::uint32_t result = b & 0x7f;
    if (b & 0x80) {
      unsigned bitpos = 7;
      do {
        if (p_ == end_) return ctx.pb_fail("end-of-stream");
        b = *p_++;
        if (bitpos >= 32) {
          const std::uint8_t sign_extension = bitpos < 63 ? 0xff : 0x01;
          const bool valid = (b & 0x7f) == 0 || ((result >> 31) != 0 && b == sign_extension);
          if (bitpos >= 64 || !valid) return ctx.pb_fail("varint overflow");
        } else if (bitpos == 28) {
          if ((b & 0x70) != 0 && (b & 0x78) != 0x78) return ctx.pb_fail("varint overflow");
          result |= static_cast<std::uint32_t>(b & 0x0f) << bitpos;
        } else {
          result |= static_cast<std::uint32_t>(b & 0x7f) << bitpos;
        }
        bitpos += 7;
      } while (b & 0x80);
    }
    out = result;
    return true;
  }
  bool fixed64(Ctx& ctx, std::uint64_t& out) {
    if (left() < 8) return ctx.pb_fail("end-of-stream");
    out = 0;
    for (int i = 0; i < 8; ++i) out |= static_cast<std::uint64_t>(p_[i]) << (8 * i);
    p_ += 8;
    return true;
  }
  bool skip(Ctx& ctx, std::size_t n) {
    if (left() < n) return ctx.pb_fail("end-of-stream");
    p_ += n;
    return true;
  }
  // pb_decode_tag(): a field key.
  bool raw_key(Ctx& ctx, std::uint32_t& field, std::uint32_t& wire_type) {
    std::uint32_t v;
    if (!varint32(ctx, v)) return false;
    field = v >> 3;
    wire_type = v & 7;
    return true;
  }
  // A field key inside pb_decode(), which refuses field 0.
  bool key(Ctx& ctx, std::uint32_t& field, std::uint32_t& wire_type) {
    if (!raw_key(ctx, field, wire_type)) return false;
    if (field == 0) return ctx.pb_fail("zero tag");
    return true;
  }
  // pb_make_string_substream(): a length-delimited field's bytes.
  bool sub(Ctx& ctx, Reader& out) {
    std::uint32_t n;
    if (!varint32(ctx, n)) return false;
    if (n > left()) return ctx.pb_fail("parent stream too short");
    out = Reader(ByteSpan(p_, n));
    p_ += n;
    return true;
  }
  // pb_skip_field().
  bool skip_field(Ctx& ctx, std::uint32_t wire_type) {
    switch (wire_type) {
      case kVarint: {
        std::uint8_t b;
        do {
          if (p_ == end_) return ctx.pb_fail("end-of-stream");
          b = *p_++;
        } while (b & 0x80);
        return true;
      }
      case kFixed64:
        return skip(ctx, 8);
      case kLen: {
        std::uint32_t n;
        return varint32(ctx, n) && skip(ctx, n);
      }
      case kFixed32:
        return skip(ctx, 4);
      default:
        return ctx.pb_fail("invalid wire_type");
    }
  }
  // nanopb's read_raw_value() for a callback field sent with a scalar wire type: consumes the
  // value and returns its size (the callback then sees a stream that is not length-delimited).
  bool raw_scalar(Ctx& ctx, std::uint32_t wire_type, std::size_t& size) {
    switch (wire_type) {
      case kVarint: {
        size = 0;
        std::uint8_t b;
        do {
          if (++size > 10) return ctx.pb_fail("varint overflow");
          if (p_ == end_) return ctx.pb_fail("end-of-stream");
          b = *p_++;
        } while (b & 0x80);
        return true;
      }
      case kFixed64:
        size = 8;
        return skip(ctx, 8);
      case kFixed32:
        size = 4;
        return skip(ctx, 4);
      default:
        return ctx.pb_fail("invalid wire_type");
    }
  }

  // Singular scalar fields: the wire type must match ("wrong wire type" otherwise).
  bool u64_field(Ctx& ctx, std::uint32_t wire_type, std::uint64_t& out) {
    if (wire_type != kVarint) return ctx.pb_fail("wrong wire type");
    return varint64(ctx, out);
  }
  bool u32_field(Ctx& ctx, std::uint32_t wire_type, std::uint32_t& out) {
    std::uint64_t v;
    if (!u64_field(ctx, wire_type, v)) return false;
    out = static_cast<std::uint32_t>(v);
    if (out != v) return ctx.pb_fail("integer too large");
    return true;
  }
  bool s64_field(Ctx& ctx, std::uint32_t wire_type, std::int64_t& out) {
    std::uint64_t v;
    if (!u64_field(ctx, wire_type, v)) return false;
    out = static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
    return true;
  }
  bool bool_field(Ctx& ctx, std::uint32_t wire_type, bool& out) {
    if (wire_type != kVarint) return ctx.pb_fail("wrong wire type");
    std::uint32_t v;
    if (!varint32(ctx, v)) return false;
    out = v != 0;
    return true;
  }
  bool double_field(Ctx& ctx, std::uint32_t wire_type, double& out) {
    if (wire_type != kFixed64) return ctx.pb_fail("wrong wire type");
    std::uint64_t v;
    if (!fixed64(ctx, v)) return false;
    out = std::bit_cast<double>(v);
    return true;
  }

 private:
  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
};

// A callback field (string, bytes, repeated message): calls fn(Reader*) with its bytes, or with
// nullptr (and the raw scalar's size) when it was sent with a scalar wire type.
template <typename Fn>
bool callback_field(Ctx& ctx, Reader& r, std::uint32_t wire_type, Fn&& fn) {
  if (wire_type == kLen) {
    Reader sub;
    if (!r.sub(ctx, sub)) return false;
    return fn(&sub, sub.left());
  }
  std::size_t size = 0;
  if (!r.raw_scalar(ctx, wire_type, size)) return false;
  return fn(nullptr, size);
}

std::string_view as_chars(ByteSpan b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

// codec.cc's read_string().
bool read_string(Ctx& ctx, Reader* s, const FieldPath& path, std::string_view& out) {
  if (s == nullptr) {
    return ctx.fail(ErrorReason::kMalformed, path, "expected a length-delimited string");
  }
  const std::string_view view = as_chars(s->rest());
  Status st = internal::check_name(path, view, ctx.limits, /*required=*/false);
  if (!st.ok()) return ctx.fail(std::move(st));
  out = view;
  return true;
}

// One record's sketch: whether its submessage was present and the last blob it carried.
struct SketchField {
  bool present = false;
  bool has_data = false;
  ByteSpan data;
};

// What the checks after a record need of its sketches.
struct SketchFacts {
  sketch::ExpHistogram::SerializedStats histogram;
  std::uint64_t topk_total = 0;
};

enum class SketchKind { kHistogram, kDistinct, kTopk };

// codec.cc's read_sketch(): the blob must be within max_sketch_bytes and pass its decoder.
bool read_sketch(Ctx& ctx, Reader* s, std::size_t size, const FieldPath& path, SketchKind kind,
                 SketchField& field, SketchFacts& facts) {
  if (size > ctx.limits.max_sketch_bytes) {
    return ctx.fail(
        ErrorReason::kSketchTooLarge, path,
        fmt::format("{} bytes exceed max_sketch_bytes {}", size, ctx.limits.max_sketch_bytes));
  }
  if (s == nullptr) {
    return ctx.fail(ErrorReason::kMalformed, path, "expected length-delimited bytes");
  }
  const ByteSpan bytes = s->rest();
  Status st;
  switch (kind) {
    case SketchKind::kHistogram:
      st = sketch::ExpHistogram::validate(bytes, &facts.histogram);
      break;
    case SketchKind::kDistinct:
      st = sketch::HyperLogLog::deserialize(bytes).status();
      break;
    case SketchKind::kTopk: {
      auto t = sketch::TopK::deserialize(bytes);
      st = t.status();
      if (t.ok()) facts.topk_total = t->total();
      break;
    }
  }
  if (!st.ok()) return ctx.fail(ErrorReason::kBadSketch, path, st.message());
  field.has_data = true;
  field.data = bytes;
  return true;
}

// A HistogramSketch / DistinctSketch / TopKSketch submessage: `bytes data = 1`.
bool read_sketch_message(Ctx& ctx, Reader& r, std::uint32_t wire_type, const FieldPath& path,
                         SketchKind kind, SketchField& field, SketchFacts& facts) {
  if (wire_type != kLen) return ctx.pb_fail("wrong wire type");
  Reader m;
  if (!r.sub(ctx, m)) return false;
  field.present = true;
  while (!m.done()) {
    std::uint32_t f, wt;
    if (!m.key(ctx, f, wt)) return false;
    if (f == edgesketch_v1_HistogramSketch_data_tag) {
      static_assert(edgesketch_v1_HistogramSketch_data_tag ==
                        edgesketch_v1_DistinctSketch_data_tag &&
                    edgesketch_v1_HistogramSketch_data_tag == edgesketch_v1_TopKSketch_data_tag);
      if (!callback_field(ctx, m, wt, [&](Reader* s, std::size_t size) {
            return read_sketch(ctx, s, size, path, kind, field, facts);
          })) {
        return false;
      }
    } else if (!m.skip_field(ctx, wt)) {
      return false;
    }
  }
  return true;
}

// codec.cc's decode_sorted_tag(): one Tag submessage appended to `tags`.
bool decode_tag(Ctx& ctx, Reader* s, const FieldPath& record, std::size_t index,
                std::vector<TagView>& tags, std::size_t first) {
  const FieldPath path = record.child("tags", index);
  if (index >= ctx.limits.max_tags) {
    return ctx.fail(ErrorReason::kTooManyTags, path,
                    fmt::format("more than max_tags {} tags", ctx.limits.max_tags));
  }
  if (s == nullptr) {
    return ctx.fail(ErrorReason::kMalformed, path, "expected a length-delimited message");
  }
  std::string_view key, value;
  while (!s->done()) {
    std::uint32_t f, wt;
    if (!s->raw_key(ctx, f, wt)) return ctx.fail_message(path);
    if (f == edgesketch_v1_Tag_key_tag || f == edgesketch_v1_Tag_value_tag) {
      if (wt != kLen) {
        return ctx.fail(ErrorReason::kMalformed, path,
                        fmt::format("field {} has wire type {}, not a string", f, wt));
      }
      Reader sub;
      if (!s->sub(ctx, sub)) return ctx.fail_message(path);
      (f == edgesketch_v1_Tag_key_tag ? key : value) = as_chars(sub.rest());
    } else if (f == 0) {
      return ctx.fail(ErrorReason::kMalformed, path, "field number 0");
    } else if (!s->skip_field(ctx, wt)) {
      return ctx.fail_message(path);
    }
  }
  Status st = internal::check_name(path.child("key"), key, ctx.limits, /*required=*/true);
  if (st.ok()) st = internal::check_name(path.child("value"), value, ctx.limits, false);
  if (!st.ok()) return ctx.fail(std::move(st));
  if (tags.size() > first && !(tags.back().key < key)) {
    return ctx.fail(ErrorReason::kTagOrder, path.child("key"),
                    fmt::format("\"{}\" does not sort after the previous key \"{}\" (tags must be "
                                "sorted by key, keys unique)",
                                key, tags.back().key));
  }
  tags.push_back(TagView{key, value});
  return true;
}

// codec.cc's decode_record(): parses the record's fields, then checks them in its order.
bool decode_record(Ctx& ctx, Reader* s, const FieldPath& path, WindowRecordView& out,
                   std::vector<TagView>& tags) {
  if (s == nullptr) {
    return ctx.fail(ErrorReason::kMalformed, path, "expected a length-delimited message");
  }
  const internal::RecordFieldPaths paths(path);
  const std::size_t first_tag = tags.size();
  SketchField hist, distinct, topk;
  SketchFacts facts;
  Reader& r = *s;
  while (!r.done()) {
    std::uint32_t f, wt;
    if (!r.key(ctx, f, wt)) return ctx.fail_message(path);
    bool ok = true;
    switch (f) {
      case edgesketch_v1_WindowRecord_metric_tag:
        ok = callback_field(ctx, r, wt, [&](Reader* sub, std::size_t) {
          return read_string(ctx, sub, paths.metric, out.metric);
        });
        break;
      case edgesketch_v1_WindowRecord_tags_tag:
        ok = callback_field(ctx, r, wt, [&](Reader* sub, std::size_t) {
          return decode_tag(ctx, sub, path, tags.size() - first_tag, tags, first_tag);
        });
        break;
      case edgesketch_v1_WindowRecord_window_start_ms_tag:
        ok = r.s64_field(ctx, wt, out.window_start_ms);
        break;
      case edgesketch_v1_WindowRecord_window_ms_tag:
        ok = r.u32_field(ctx, wt, out.window_ms);
        break;
      case edgesketch_v1_WindowRecord_count_tag:
        ok = r.u64_field(ctx, wt, out.count);
        break;
      case edgesketch_v1_WindowRecord_sum_tag:
        ok = r.double_field(ctx, wt, out.sum);
        break;
      case edgesketch_v1_WindowRecord_min_tag:
        ok = r.double_field(ctx, wt, out.min);
        break;
      case edgesketch_v1_WindowRecord_max_tag:
        ok = r.double_field(ctx, wt, out.max);
        break;
      case edgesketch_v1_WindowRecord_histogram_tag:
        ok = read_sketch_message(ctx, r, wt, paths.histogram, SketchKind::kHistogram, hist, facts);
        break;
      case edgesketch_v1_WindowRecord_distinct_tag:
        ok =
            read_sketch_message(ctx, r, wt, paths.distinct, SketchKind::kDistinct, distinct, facts);
        break;
      case edgesketch_v1_WindowRecord_topk_tag:
        ok = read_sketch_message(ctx, r, wt, paths.topk, SketchKind::kTopk, topk, facts);
        break;
      case edgesketch_v1_WindowRecord_delta_tag:
        ok = r.bool_field(ctx, wt, out.delta);
        break;
      case edgesketch_v1_WindowRecord_distinct_of_tag:
        ok = callback_field(ctx, r, wt, [&](Reader* sub, std::size_t) {
          return read_string(ctx, sub, paths.distinct_of, out.distinct_of);
        });
        break;
      case edgesketch_v1_WindowRecord_topk_of_tag:
        ok = callback_field(ctx, r, wt, [&](Reader* sub, std::size_t) {
          return read_string(ctx, sub, paths.topk_of, out.topk_of);
        });
        break;
      default:
        ok = r.skip_field(ctx, wt);
    }
    if (!ok) return ctx.fail_message(path);
  }

  auto check = [&](Status st) { return st.ok() || ctx.fail(std::move(st)); };
  if (!check(internal::check_name(paths.metric, out.metric, ctx.limits, true))) return false;
  if (!check(internal::check_timestamp(path.child("window_start_ms"), out.window_start_ms,
                                       ctx.limits, ctx.now_ms)) ||
      !check(internal::check_window(path, out.window_start_ms, out.window_ms, ctx.limits))) {
    return false;
  }
  if ((hist.present && !hist.has_data) || (distinct.present && !distinct.has_data) ||
      (topk.present && !topk.has_data)) {
    const FieldPath& p = hist.present && !hist.has_data           ? paths.histogram
                         : distinct.present && !distinct.has_data ? paths.distinct
                                                                  : paths.topk;
    return ctx.fail(ErrorReason::kBadSketch, p, "present but holds no data");
  }
  if (!check(internal::check_sketch_subject(path, "distinct sketch", distinct.has_data,
                                            "distinct_of", out.distinct_of)) ||
      !check(internal::check_sketch_subject(path, "topk sketch", topk.has_data, "topk_of",
                                            out.topk_of))) {
    return false;
  }
  sketch::WindowAggregate::PartsSummary summary;
  if (hist.has_data) summary.histogram = &facts.histogram;
  if (topk.has_data) summary.topk_total = &facts.topk_total;
  if (distinct.has_data && out.count == 0) {
    // Only an empty record needs the estimate; the blob decoded once already.
    auto d = sketch::HyperLogLog::deserialize(distinct.data);
    summary.distinct_nonzero = d.ok() && d->estimate() != 0;
  }
  Status agg = sketch::WindowAggregate::check_parts(out.count, out.sum, out.min, out.max, summary);
  if (!agg.ok()) return ctx.fail(ErrorReason::kBadAggregate, path, agg.message());
  out.histogram = hist.has_data ? hist.data : ByteSpan();
  out.distinct = distinct.has_data ? distinct.data : ByteSpan();
  out.topk = topk.has_data ? topk.data : ByteSpan();
  return true;
}

Status decode_view(ByteSpan bytes, Ctx& ctx, WindowBatchView& out,
                   std::vector<WindowRecordView>& records, std::vector<TagView>& tags,
                   std::vector<std::uint32_t>& tag_begin) {
  const FieldPath root{nullptr, "window_batch"};
  ES_RETURN_IF_ERROR(internal::check_payload_size(root, bytes.size(), ctx.limits));
  const FieldPath gateway_path = root.child("gateway_id");
  const FieldPath tenant_path = root.child("tenant");
  std::uint32_t schema_version = 0;
  std::int64_t created_ms = 0;
  std::optional<std::uint32_t> record_count;
  Reader r(bytes);
  bool ok = true;
  while (ok && !r.done()) {
    std::uint32_t f, wt;
    if (!r.key(ctx, f, wt)) {
      ok = false;
      break;
    }
    switch (f) {
      case edgesketch_v1_WindowBatch_schema_version_tag:
        ok = r.u32_field(ctx, wt, schema_version);
        break;
      case edgesketch_v1_WindowBatch_gateway_id_tag:
        ok = callback_field(ctx, r, wt, [&](Reader* s, std::size_t) {
          return read_string(ctx, s, gateway_path, out.gateway_id);
        });
        break;
      case edgesketch_v1_WindowBatch_seq_tag:
        ok = r.u64_field(ctx, wt, out.seq);
        break;
      case edgesketch_v1_WindowBatch_created_ms_tag:
        ok = r.s64_field(ctx, wt, created_ms);
        break;
      case edgesketch_v1_WindowBatch_records_tag:
        ok = callback_field(ctx, r, wt, [&](Reader* s, std::size_t) {
          const FieldPath path = root.child("records", records.size());
          // As codec.cc: refuse another schema before reading its records.
          if (schema_version != 0 && schema_version != kSchemaVersion) {
            return ctx.fail(
                ErrorReason::kSchemaVersion, root.child("schema_version"),
                fmt::format("{} is not the supported version {}", schema_version, kSchemaVersion));
          }
          if (records.size() >= ctx.limits.max_records_per_batch) {
            return ctx.fail(ErrorReason::kTooManyRecords, path,
                            fmt::format("more than max_records_per_batch {} records",
                                        ctx.limits.max_records_per_batch));
          }
          const std::size_t tags_before = tags.size();
          WindowRecordView rec;
          if (!decode_record(ctx, s, path, rec, tags)) return false;
          records.push_back(rec);
          tag_begin.push_back(static_cast<std::uint32_t>(tags_before));
          return true;
        });
        break;
      case edgesketch_v1_WindowBatch_tenant_tag:
        ok = callback_field(ctx, r, wt, [&](Reader* s, std::size_t) {
          return read_string(ctx, s, tenant_path, out.tenant);
        });
        break;
      case edgesketch_v1_WindowBatch_record_count_tag: {
        std::uint32_t n;
        ok = r.u32_field(ctx, wt, n);
        if (ok) record_count = n;
        break;
      }
      default:
        ok = r.skip_field(ctx, wt);
    }
  }
  if (!ok) {
    ctx.fail_message(root);
    return ctx.error;
  }
  if (schema_version != kSchemaVersion) {
    return field_error(
        ErrorReason::kSchemaVersion, root.child("schema_version"),
        fmt::format("{} is not the supported version {}", schema_version, kSchemaVersion));
  }
  if (!record_count || *record_count != records.size()) {
    return field_error(ErrorReason::kTruncated, root.child("record_count"),
                       record_count ? fmt::format("says {} records but {} arrived (payload cut "
                                                  "short?)",
                                                  *record_count, records.size())
                                    : fmt::format("is missing after {} records (payload cut "
                                                  "short?)",
                                                  records.size()));
  }
  ES_RETURN_IF_ERROR(internal::check_name(gateway_path, out.gateway_id, ctx.limits, true));
  ES_RETURN_IF_ERROR(
      internal::check_timestamp(root.child("created_ms"), created_ms, ctx.limits, ctx.now_ms));
  out.schema_version = schema_version;
  out.created_ms = created_ms;
  return Status();
}

}  // namespace

Status decode_window_batch_view(ByteSpan payload, const Limits& limits, std::int64_t now_ms,
                                WindowBatchView& out) {
  out.records_.clear();
  out.tags_.clear();
  out.tag_begin_.clear();
  out.schema_version = kSchemaVersion;
  out.tenant = {};
  out.gateway_id = {};
  out.seq = 0;
  out.created_ms = 0;
  Status st;
  try {
    auto bytes = uncompressed_payload(payload, limits, out.decompressed_);
    if (!bytes.ok()) {
      st = bytes.status();
    } else {
      Ctx ctx{limits, now_ms, Status(), nullptr};
      st = decode_view(*bytes, ctx, out, out.records_, out.tags_, out.tag_begin_);
    }
  } catch (const std::bad_alloc&) {
    st = wire_error(ErrorReason::kOutOfMemory, "allocation failed");
  }
  if (!st.ok()) {
    out.records_.clear();
    out.tags_.clear();
    out.tag_begin_.clear();
    return st;
  }
  // The tag array has stopped growing: point every record at its tags.
  for (std::size_t i = 0; i < out.records_.size(); ++i) {
    const std::size_t b = out.tag_begin_[i];
    const std::size_t e = i + 1 < out.records_.size() ? out.tag_begin_[i + 1] : out.tags_.size();
    out.records_[i].tags = std::span<const TagView>(out.tags_.data() + b, e - b);
  }
  return Status();
}

Result<WindowRecord> to_window_record(const WindowRecordView& v) {
  WindowRecord r;
  r.key.metric.assign(v.metric);
  r.key.tags.reserve(v.tags.size());
  for (const TagView& t : v.tags)
    r.key.tags.push_back(Tag{std::string(t.key), std::string(t.value)});
  r.window_start_ms = v.window_start_ms;
  r.window_ms = v.window_ms;
  r.delta = v.delta;
  r.distinct_of.assign(v.distinct_of);
  r.topk_of.assign(v.topk_of);
  std::optional<sketch::ExpHistogram> h;
  std::optional<sketch::HyperLogLog> d;
  std::optional<sketch::TopK> t;
  if (!v.histogram.empty()) {
    ES_ASSIGN_OR_RETURN(h, sketch::ExpHistogram::deserialize(v.histogram));
  }
  if (!v.distinct.empty()) {
    ES_ASSIGN_OR_RETURN(d, sketch::HyperLogLog::deserialize(v.distinct));
  }
  if (!v.topk.empty()) {
    ES_ASSIGN_OR_RETURN(t, sketch::TopK::deserialize(v.topk));
  }
  ES_ASSIGN_OR_RETURN(
      r.agg, sketch::WindowAggregate::from_parts(v.count, v.sum, v.min, v.max, std::move(h),
                                                 std::move(d), std::move(t)));
  return r;
}

Result<WindowBatch> to_window_batch(const WindowBatchView& view) {
  WindowBatch b;
  b.schema_version = view.schema_version;
  b.tenant.assign(view.tenant);
  b.gateway_id.assign(view.gateway_id);
  b.seq = view.seq;
  b.created_ms = view.created_ms;
  b.records.reserve(view.records().size());
  for (const WindowRecordView& v : view.records()) {
    ES_ASSIGN_OR_RETURN(WindowRecord r, to_window_record(v));
    b.records.push_back(std::move(r));
  }
  return b;
}

}  // namespace edgesketch::wire
